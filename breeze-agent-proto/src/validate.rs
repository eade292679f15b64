//! Validation after decoding: field paths, the issue report and the [`Validate`] trait.
//!
//! Serde checks the shape (types, required and unknown fields); [`Validate`] then checks every
//! limit of [`crate::limits`] and patterns, collecting issues with their field paths. This
//! module is private: its items are public only so the sealed [`crate::Message`] trait can name
//! them.

use std::fmt::Display;

use crate::issue::{DroppedField, Issue, IssueCode};
use crate::limits::{MAX_ISSUE_MESSAGE_CHARS, MAX_ISSUE_PATH_CHARS, MAX_ISSUES};
use crate::text::{chars_exceed, truncate_chars};

/// A field path being walked during validation; rendered only when something is reported.
#[derive(Debug, Clone, Copy)]
pub enum Path<'a> {
    /// The message itself.
    Root,
    /// A named field of the parent.
    Field(&'a Path<'a>, &'a str),
    /// A list index of the parent.
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    /// The child field `name`.
    pub fn field(&'a self, name: &'a str) -> Path<'a> {
        Path::Field(self, name)
    }

    /// The child list entry `index`.
    pub fn index(&'a self, index: usize) -> Path<'a> {
        Path::Index(self, index)
    }

    fn write(&self, out: &mut String) {
        match self {
            Path::Root => {}
            Path::Field(parent, name) => {
                parent.write(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Path::Index(parent, index) => {
                parent.write(out);
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
        }
    }

    /// The rendered path (`a.b[2].c`).
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }
}

/// Collects issues (at most [`MAX_ISSUES`] kept, all counted) and dropped-field notes.
#[derive(Debug, Default)]
pub struct Report {
    pub(crate) issues: Vec<Issue>,
    pub(crate) total_issues: usize,
    pub(crate) dropped: Vec<DroppedField>,
}

impl Report {
    /// Records an issue at `path`.
    pub fn issue(&mut self, path: &Path<'_>, code: IssueCode, message: &str) {
        self.total_issues = self.total_issues.saturating_add(1);
        if self.issues.len() < MAX_ISSUES {
            self.issues.push(Issue::new(&path.render(), code, message));
        }
    }

    /// Records that the informational field at `path` was dropped.
    pub fn dropped(&mut self, path: &Path<'_>, reason: &str) {
        // Bounded like the issues: a hostile heartbeat cannot grow this list without limit.
        if self.dropped.len() < crate::limits::MAX_DROPPED_FIELDS {
            self.dropped.push(DroppedField {
                path: truncate_chars(&path.render(), MAX_ISSUE_PATH_CHARS).to_owned(),
                reason: truncate_chars(reason, MAX_ISSUE_MESSAGE_CHARS).to_owned(),
            });
        }
    }

    /// True when no issue was recorded.
    pub fn is_clean(&self) -> bool {
        self.total_issues == 0
    }
}

/// Checks limits and patterns of a decoded value, reporting issues under `path`.
pub trait Validate {
    /// Reports every violation; may drop invalid informational fields.
    fn validate(&mut self, path: &Path<'_>, report: &mut Report);
}

impl<T: Validate> Validate for Option<T> {
    fn validate(&mut self, path: &Path<'_>, report: &mut Report) {
        if let Some(inner) = self {
            inner.validate(path, report);
        }
    }
}

/// Validates each entry of a list and its length.
pub fn check_list<T: Validate>(list: &mut [T], max: usize, path: &Path<'_>, report: &mut Report) {
    check_count(list.len(), max, path, report);
    for (i, item) in list.iter_mut().enumerate() {
        item.validate(&path.index(i), report);
    }
}

/// Reports a list longer than `max`.
pub fn check_count(len: usize, max: usize, path: &Path<'_>, report: &mut Report) {
    if len > max {
        report.issue(
            path,
            IssueCode::TooMany,
            &format!("at most {max} entries allowed"),
        );
    }
}

/// Reports a string with fewer than `min` or more than `max` characters.
pub fn check_chars(s: &str, min: usize, max: usize, path: &Path<'_>, report: &mut Report) {
    if let Err((code, message)) = chars_in(s, min, max) {
        report.issue(path, code, &message);
    }
}

/// Like [`check_chars`] for an optional string.
pub fn check_opt_chars(
    s: Option<&str>,
    min: usize,
    max: usize,
    path: &Path<'_>,
    report: &mut Report,
) {
    if let Some(s) = s {
        check_chars(s, min, max, path, report);
    }
}

/// The length rule as a result, for informational fields.
pub fn chars_in(s: &str, min: usize, max: usize) -> Result<(), (IssueCode, String)> {
    if s.chars().take(min).count() < min {
        let message = if min == 1 {
            "must not be empty".to_owned()
        } else {
            format!("at least {min} characters required")
        };
        return Err((IssueCode::TooShort, message));
    }
    if chars_exceed(s, max) {
        return Err((
            IssueCode::TooLong,
            format!("at most {max} characters allowed"),
        ));
    }
    Ok(())
}

/// The rule of names and facts that reach logs and terminals (hostname, OS facts, user
/// names, interface names): [`chars_in`], and no C0/C1 control character anywhere
/// (`breeze_core::text`, the rule the server applies to user-supplied names too).
pub fn text_in(s: &str, min: usize, max: usize) -> Result<(), (IssueCode, String)> {
    chars_in(s, min, max)?;
    if breeze_core::text::has_control(s) {
        return Err((
            IssueCode::InvalidFormat,
            "must not contain control characters".to_owned(),
        ));
    }
    Ok(())
}

/// Reports a string that breaks [`text_in`].
pub fn check_text(s: &str, min: usize, max: usize, path: &Path<'_>, report: &mut Report) {
    if let Err((code, message)) = text_in(s, min, max) {
        report.issue(path, code, &message);
    }
}

/// Like [`check_text`] for an optional string.
pub fn check_opt_text(
    s: Option<&str>,
    min: usize,
    max: usize,
    path: &Path<'_>,
    report: &mut Report,
) {
    if let Some(s) = s {
        check_text(s, min, max, path, report);
    }
}

/// Reports a number outside `min..=max`.
pub fn check_range<T: PartialOrd + Display + Copy>(
    value: T,
    min: T,
    max: T,
    path: &Path<'_>,
    report: &mut Report,
) {
    if value < min || value > max {
        report.issue(
            path,
            IssueCode::OutOfRange,
            &format!("must be between {min} and {max}"),
        );
    }
}
