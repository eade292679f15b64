//! Commands (SPEC 8.5): `{id, type, payload}`, in heartbeat responses and as WebSocket frames.
//!
//! Known types decode to a typed [`CommandBody`]; a type this crate does not know decodes to
//! [`CommandBody::Unknown`] instead of failing, so an agent can answer it with
//! [`Command::unsupported_result`] (a failed result) rather than crash or drop it silently.

use std::borrow::Cow;

use breeze_core::tenancy::CommandId;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{Error as _, Unexpected};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::error::{nested_error_at, nested_message_at};
use crate::file::FileWritePayload;
use crate::limits::MAX_COMMAND_TYPE_CHARS;
use crate::payload::{
    EmptyPayload, FileDeletePayload, FileListPayload, FileReadPayload, InstallPatchesPayload,
    KillProcessPayload, PatchScanPayload, PowerPayload, RollbackPatchesPayload, RunScriptPayload,
    ScriptCancelPayload, SelfUninstallPayload,
};
use crate::result::{CommandResult, CommandStatus};
use crate::text::truncate_chars;
use crate::validate::{Path, Report, Validate};

macro_rules! command_set {
    ($( $(#[$doc:meta])* $variant:ident($payload:ty) = $tag:literal; )*) => {
        /// A command type this crate knows (SPEC 8.5).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
        #[non_exhaustive]
        pub enum CommandType {
            $( $(#[$doc])* #[serde(rename = $tag)] $variant, )*
        }

        impl CommandType {
            /// Every known type.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// The wire name (`run_script`, ...).
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $tag,)* }
            }

            /// The type with this wire name, if known.
            #[must_use]
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $($tag => Some(Self::$variant),)* _ => None }
            }
        }

        /// A command's type and typed payload.
        #[derive(Debug, Clone, PartialEq)]
        pub enum CommandBody {
            $( $(#[$doc])* $variant($payload), )*
            /// A type this crate does not know: kept (type bounded to 64 characters) so the
            /// agent can report it as unsupported.
            Unknown(UnknownCommand),
        }

        impl CommandBody {
            /// The known type, or `None` for [`CommandBody::Unknown`].
            #[must_use]
            pub const fn command_type(&self) -> Option<CommandType> {
                match self {
                    $(Self::$variant(_) => Some(CommandType::$variant),)*
                    Self::Unknown(_) => None,
                }
            }

            /// The wire type name.
            #[must_use]
            pub fn type_name(&self) -> &str {
                match self {
                    $(Self::$variant(_) => $tag,)*
                    Self::Unknown(unknown) => &unknown.command_type,
                }
            }

            fn serialize_payload<S: SerializeStruct>(&self, s: &mut S) -> Result<(), S::Error> {
                match self {
                    $(Self::$variant(p) => s.serialize_field("payload", p),)*
                    Self::Unknown(unknown) => s.serialize_field("payload", &unknown.payload),
                }
            }

            fn decode(
                ty: CommandType,
                payload: Value,
            ) -> Result<Self, serde_path_to_error::Error<serde_json::Error>> {
                match ty {
                    $(CommandType::$variant => serde_path_to_error::deserialize(payload).map(Self::$variant),)*
                }
            }

            fn validate_payload(&mut self, path: &Path<'_>, report: &mut Report) {
                match self {
                    $(Self::$variant(p) => p.validate(path, report),)*
                    Self::Unknown(_) => {}
                }
            }
        }

        fn known_command_schemas(generator: &mut SchemaGenerator) -> Vec<Schema> {
            vec![$( {
                let payload = generator.subschema_for::<$payload>();
                command_schema(generator, $tag, payload)
            } ),*]
        }
    };
}

command_set! {
    /// Run a script.
    RunScript(RunScriptPayload) = "run_script";
    /// Cancel a running script.
    ScriptCancel(ScriptCancelPayload) = "script_cancel";
    /// Reboot the device.
    Reboot(PowerPayload) = "reboot";
    /// Shut the device down.
    Shutdown(PowerPayload) = "shutdown";
    /// Collect a full inventory.
    CollectInventory(EmptyPayload) = "collect_inventory";
    /// List running processes.
    ListProcesses(EmptyPayload) = "list_processes";
    /// Kill a process.
    KillProcess(KillProcessPayload) = "kill_process";
    /// List a directory.
    FileList(FileListPayload) = "file_list";
    /// Read a file.
    FileRead(FileReadPayload) = "file_read";
    /// Delete a file or directory.
    FileDelete(FileDeletePayload) = "file_delete";
    /// Write a whole file (content and its SHA-256).
    FileWrite(FileWritePayload) = "file_write";
    /// Scan for missing patches.
    PatchScan(PatchScanPayload) = "patch_scan";
    /// Install patches.
    InstallPatches(InstallPatchesPayload) = "install_patches";
    /// Roll patches back.
    RollbackPatches(RollbackPatchesPayload) = "rollback_patches";
    /// Uninstall the agent.
    SelfUninstall(SelfUninstallPayload) = "self_uninstall";
}

/// A command of a type this crate does not know.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownCommand {
    /// The type as sent (at most 64 characters kept).
    pub command_type: String,
    /// The payload as sent (`null` when absent).
    pub payload: Value,
}

/// A command for an agent: `{id, type, payload}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The command id (results and acks refer to it).
    pub id: CommandId,
    /// Type and payload.
    pub body: CommandBody,
}

impl Command {
    /// A command with a random id.
    #[must_use]
    pub fn new(body: CommandBody) -> Self {
        Self {
            id: CommandId::new_random(),
            body,
        }
    }

    /// For a command of unknown type, the failed result the agent sends back; `None` for a
    /// known type.
    #[must_use]
    pub fn unsupported_result(&self) -> Option<CommandResult> {
        let CommandBody::Unknown(unknown) = &self.body else {
            return None;
        };
        let mut result = CommandResult::new(self.id, CommandStatus::Failed);
        result.error = Some(format!(
            "unsupported command type `{}`",
            unknown.command_type
        ));
        Some(result)
    }
}

impl Serialize for Command {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Command", 3)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("type", self.body.type_name())?;
        self.body.serialize_payload(&mut s)?;
        s.end()
    }
}

const COMMAND_FIELDS: &[&str] = &["id", "type", "payload"];

impl Command {
    /// Decodes a command from a JSON object (already size-checked by the caller).
    pub(crate) fn from_map<E: serde::de::Error>(
        mut map: serde_json::Map<String, Value>,
    ) -> Result<Self, E> {
        if let Some(extra) = map.keys().find(|k| !COMMAND_FIELDS.contains(&k.as_str())) {
            return Err(E::unknown_field(extra, COMMAND_FIELDS));
        }
        let id = map.remove("id").ok_or_else(|| E::missing_field("id"))?;
        let id: CommandId = serde_path_to_error::deserialize(id)
            .map_err(|e| E::custom(nested_error_at("id", &e)))?;
        let type_name = match map.remove("type") {
            Some(Value::String(s)) => s,
            Some(_) => {
                return Err(E::custom(nested_message_at(
                    "type",
                    "invalid type: value, expected a string",
                )));
            }
            None => return Err(E::missing_field("type")),
        };
        let payload = map.remove("payload");
        let body = match CommandType::from_name(&type_name) {
            Some(ty) => {
                let payload = payload.ok_or_else(|| E::missing_field("payload"))?;
                CommandBody::decode(ty, payload)
                    .map_err(|e| E::custom(nested_error_at("payload", &e)))?
            }
            None => CommandBody::Unknown(UnknownCommand {
                command_type: truncate_chars(&type_name, MAX_COMMAND_TYPE_CHARS).to_owned(),
                payload: payload.unwrap_or(Value::Null),
            }),
        };
        Ok(Self { id, body })
    }
}

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Object(map) => Self::from_map(map),
            _ => Err(D::Error::invalid_type(
                Unexpected::Other("non-object"),
                &"a command object",
            )),
        }
    }
}

impl Validate for Command {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        self.body.validate_payload(&path.field("payload"), report);
    }
}

fn command_schema(generator: &mut SchemaGenerator, tag: &str, payload: Schema) -> Schema {
    let id = generator.subschema_for::<crate::ids::UuidSchema>();
    json_schema!({
        "type": "object",
        "properties": {
            "id": id,
            "type": { "type": "string", "const": tag },
            "payload": payload
        },
        "required": ["id", "type", "payload"],
        "additionalProperties": false
    })
}

impl JsonSchema for Command {
    fn schema_name() -> Cow<'static, str> {
        "Command".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let variants = known_command_schemas(generator);
        json_schema!({
            "description": "A command `{id, type, payload}` (SPEC 8.5). An agent answers a type it does not know with a failed command result instead of rejecting the message.",
            "oneOf": variants
        })
    }
}
