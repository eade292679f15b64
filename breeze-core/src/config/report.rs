//! The validation report.

use std::fmt;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Refuse to start.
    Error,
    /// Start, and log it.
    Warning,
}

/// One finding. `message` names the field and the rule, never the value of a secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConfigIssue {
    /// Error or warning.
    pub severity: Severity,
    /// The setting (`jwt_secrets.k1`, `cors_origins[2]`).
    pub field: String,
    /// A stable machine code (`placeholder`, `cors_wildcard`, ...).
    pub code: &'static str,
    /// A lowercase human explanation.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.field, self.message, self.code)
    }
}

/// Every finding of a validation run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ConfigReport {
    /// Findings that must stop the server from starting.
    pub errors: Vec<ConfigIssue>,
    /// Findings to log.
    pub warnings: Vec<ConfigIssue>,
}

impl ConfigReport {
    /// Whether the configuration may be used (no errors).
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// Adds a finding.
    pub fn push(
        &mut self,
        severity: Severity,
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        let issue = ConfigIssue {
            severity,
            field: field.into(),
            code,
            message: message.into(),
        };
        match severity {
            Severity::Error => self.errors.push(issue),
            Severity::Warning => self.warnings.push(issue),
        }
    }

    /// Adds an error.
    pub fn error(
        &mut self,
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        self.push(Severity::Error, field, code, message);
    }

    /// Adds a warning.
    pub fn warning(
        &mut self,
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        self.push(Severity::Warning, field, code, message);
    }

    /// Whether some finding on `field` has `code`.
    #[must_use]
    pub fn has(&self, field: &str, code: &str) -> bool {
        self.errors
            .iter()
            .chain(&self.warnings)
            .any(|i| i.field == field && i.code == code)
    }
}
