//! Every size, length and count limit of the agent protocol, in one place.
//!
//! Decoding enforces all of them: a body or frame above its byte limit is refused before it
//! is parsed, and a string or list above its limit is an issue (protocol fields) or a dropped
//! field (informational heartbeat fields). "MB" is decimal (1,000,000 bytes) and "MiB" binary
//! (1,048,576 bytes), exactly as SPEC section 8 writes them.

/// One mebibyte.
pub const MIB: usize = 1024 * 1024;

// ----- bodies and frames (bytes, checked before parsing) -----

/// Maximum enrollment request body (SPEC 8.1).
pub const MAX_ENROLL_BODY_BYTES: usize = 64 * 1024;
/// Maximum heartbeat body, HTTP or WebSocket (SPEC 8.4: 5 MiB, 413 above).
pub const MAX_HEARTBEAT_BODY_BYTES: usize = 5 * MIB;
/// Maximum token-rotation request body (stage or confirm; SPEC 8.3).
pub const MAX_ROTATION_BODY_BYTES: usize = 4 * 1024;
/// Maximum command-result body or `command_result` frame: room for both 5,000,000-character
/// streams, the error and the 5 MB result, with JSON escaping headroom.
pub const MAX_COMMAND_RESULT_BODY_BYTES: usize = 24 * MIB;
/// Maximum WebSocket text frame (BEYOND: checked before any parsing; upstream set none).
pub const MAX_TEXT_FRAME_BYTES: usize = MAX_COMMAND_RESULT_BODY_BYTES;
/// Maximum server-to-agent text frame or HTTP response body the agent accepts.
pub const MAX_SERVER_MESSAGE_BYTES: usize = 8 * MIB;
/// Maximum data in one binary desktop frame (`0x02`; SPEC 8.6: 5 MB).
pub const MAX_DESKTOP_FRAME_DATA_BYTES: usize = 5_000_000;
/// Maximum data in one binary tunnel frame (`0x03`; SPEC 8.6: 1 MB).
pub const MAX_TUNNEL_FRAME_DATA_BYTES: usize = 1_000_000;
/// Length of the session id carried by a binary frame (a hyphenated UUID).
pub const BINARY_SESSION_ID_BYTES: usize = 36;

// ----- command results (SPEC 8.5) -----

/// Maximum characters of `stdout` and of `stderr` in a command result.
pub const MAX_OUTPUT_CHARS: usize = 5_000_000;
/// Maximum characters of a command result's `error`.
pub const MAX_RESULT_ERROR_CHARS: usize = 10_000;
/// Maximum serialized size of a command result's `result` JSON (5 MB).
pub const MAX_RESULT_JSON_BYTES: usize = 5_000_000;

// ----- lists -----

/// Maximum commands in one heartbeat response (SPEC 8.4).
pub const MAX_HEARTBEAT_COMMANDS: usize = 10;
/// Maximum entries of each IP-history list in a heartbeat.
pub const MAX_IP_ENTRIES: usize = 100;
/// Maximum network interfaces in an enrollment request.
pub const MAX_NETWORK_INTERFACES: usize = 100;
/// Maximum capabilities announced in a `connected` frame.
pub const MAX_CAPABILITIES: usize = 64;
/// Maximum script parameters of a `run_script` command.
pub const MAX_SCRIPT_PARAMETERS: usize = 100;
/// Maximum patch ids of an `install_patches` / `rollback_patches` command.
pub const MAX_PATCH_IDS: usize = 1_000;
/// Maximum patch sources of a `patch_scan` command.
pub const MAX_PATCH_SOURCES: usize = 8;
/// Maximum issues listed in an invalid-message error (SPEC 8.6).
pub const MAX_ISSUES: usize = 10;

// ----- strings (characters) -----

/// Maximum characters of a hostname.
pub const MAX_HOSTNAME_CHARS: usize = 255;
/// Maximum characters of an OS version, model, serial number and similar facts.
pub const MAX_FACT_CHARS: usize = 255;
/// Maximum characters of an agent version or architecture string.
pub const MAX_VERSION_CHARS: usize = 64;
/// Maximum characters of an enrollment secret.
pub const MAX_ENROLLMENT_SECRET_CHARS: usize = 256;
/// Maximum characters of a user name (`lastUser`).
pub const MAX_USER_CHARS: usize = 255;
/// Maximum characters of an interface name.
pub const MAX_INTERFACE_NAME_CHARS: usize = 100;
/// Maximum characters of a MAC address (Windows pseudo-interfaces report long EUI-64 forms).
pub const MAX_MAC_CHARS: usize = 64;
/// Maximum characters of an IP address text (IPv6 with zone).
pub const MAX_IP_CHARS: usize = 64;
/// Maximum characters of a capability name.
pub const MAX_CAPABILITY_CHARS: usize = 64;
/// Maximum characters of a script body of a `run_script` command.
pub const MAX_SCRIPT_CHARS: usize = 1_000_000;
/// Maximum characters of a script parameter name.
pub const MAX_PARAMETER_NAME_CHARS: usize = 128;
/// Maximum characters of a script parameter value.
pub const MAX_PARAMETER_VALUE_CHARS: usize = 8_192;
/// Maximum characters of terminal output data in one frame (the frame limit binds first).
pub const MAX_TERMINAL_DATA_CHARS: usize = 64 * 1024;
/// Maximum characters of a free-text reason (reboot, shutdown).
pub const MAX_REASON_CHARS: usize = 500;
/// Maximum characters of an informational status message (update, patch, verification).
pub const MAX_STATUS_MESSAGE_CHARS: usize = 2_000;
/// Maximum characters of an error frame's or HTTP error body's message.
pub const MAX_ERROR_MESSAGE_CHARS: usize = 1_000;
/// Maximum characters of the message type echoed in an error frame (SPEC 8.6).
pub const MAX_ECHOED_TYPE_CHARS: usize = 200;
/// Maximum characters of one issue's message.
pub const MAX_ISSUE_MESSAGE_CHARS: usize = 300;
/// Maximum characters of one issue's field path.
pub const MAX_ISSUE_PATH_CHARS: usize = 200;
/// Maximum characters of an unknown command type kept for reporting.
pub const MAX_COMMAND_TYPE_CHARS: usize = 64;

// ----- numbers -----

/// Smallest accepted heartbeat or metrics interval, in seconds.
pub const MIN_INTERVAL_SECONDS: u32 = 5;
/// Largest accepted heartbeat or metrics interval, in seconds.
pub const MAX_INTERVAL_SECONDS: u32 = 86_400;
/// Largest command timeout, in seconds.
pub const MAX_TIMEOUT_SECONDS: u32 = 86_400;
/// Largest reboot / shutdown delay, in seconds.
pub const MAX_DELAY_SECONDS: u32 = 86_400;
/// Largest terminal dimension (columns or rows).
pub const MAX_TERMINAL_DIMENSION: u16 = 1_000;
/// Largest byte count a `file_read` may ask for (the transfer limit, 4 MiB).
pub const MAX_FILE_READ_BYTES: u64 = 4 * 1024 * 1024;
/// Maximum dropped-field notes kept for one heartbeat.
pub const MAX_DROPPED_FIELDS: usize = 100;

// ----- timing (seconds) -----

/// Default heartbeat interval given at enrollment (SPEC 8.1, 8.4).
pub const DEFAULT_HEARTBEAT_INTERVAL_SECONDS: u32 = 60;
/// Default metrics collection interval given at enrollment (SPEC 8.1).
pub const DEFAULT_METRICS_INTERVAL_SECONDS: u32 = 30;
/// The server pings each socket this often (SPEC 8.6).
pub const PING_INTERVAL_SECONDS: u32 = 30;
/// A socket without a pong for this long is closed with 4008 (SPEC 8.6).
pub const PONG_TIMEOUT_SECONDS: u32 = 40;
/// Agent tokens are due for rotation after this many days (SPEC 8.3).
pub const TOKEN_ROTATION_DAYS: u32 = 30;
/// Staged (pending) tokens expire after this long (SPEC 8.3).
pub const PENDING_TOKEN_TTL_SECONDS: u32 = 3_600;
/// Old tokens stay valid this long after a confirmed rotation (SPEC 8.3).
pub const ROTATION_GRACE_SECONDS: u32 = 300;

// ----- per-frame limits (checked once the frame's type is known) -----

/// Maximum `terminal_output` frame (SPEC 12: output frames <= 64 KiB).
pub const MAX_TERMINAL_FRAME_BYTES: usize = 64 * 1024;
/// Maximum bytes of terminal input in one frame (browser `input`, agent `terminal_input`).
pub const MAX_TERMINAL_INPUT_BYTES: usize = 16 * 1024;
/// Maximum browser input frames per minute of a terminal session.
pub const MAX_TERMINAL_INPUT_FRAMES_PER_MINUTE: u32 = 200;
/// Maximum browser input bytes per minute of a terminal session.
pub const MAX_TERMINAL_INPUT_BYTES_PER_MINUTE: usize = MIB;
/// Maximum bytes of a remote file path (SPEC 12).
pub const MAX_REMOTE_PATH_BYTES: usize = 2_048;
/// Largest file content moved by `file_read` / `file_write` (decoded; SPEC 12: 4 MiB).
pub const MAX_FILE_TRANSFER_BYTES: usize = 4 * MIB;
/// Most entries of a `file_list` answer (then `truncated`).
pub const MAX_FILE_LIST_ENTRIES: usize = 10_000;
/// Maximum characters of a file name in a listing.
pub const MAX_FILE_NAME_CHARS: usize = 1_024;
/// Maximum size of the small agent frames (`pong`, `update_status`, `patch_progress`,
/// `verification_progress`).
pub const MAX_SMALL_FRAME_BYTES: usize = 64 * 1024;
