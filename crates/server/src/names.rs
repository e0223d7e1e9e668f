//! Validated names: workspaces, roles, user names and copilot session ids. Paths and lookups
//! are only ever built from these types, so no request can name a path outside its workspace.
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// A workspace name: `[a-z0-9-]{1,40}` (no dots, slashes or other path syntax).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct WorkspaceName(String);

impl WorkspaceName {
    /// Validates a workspace name.
    pub fn parse(name: &str) -> Result<WorkspaceName> {
        if !name.is_empty()
            && name.len() <= 40
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            Ok(WorkspaceName(name.to_string()))
        } else {
            Err(Error::Invalid(format!(
                "invalid workspace name '{}': use 1 to 40 of a-z, 0-9 and '-'",
                crate::names::shorten(name, 60)
            )))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for WorkspaceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read what is shared with them and the workspace's incidents.
    Reader,
    /// Prompt, sessions, incident updates, KQL, scripts.
    Contributor,
    /// Everything, plus users, plugins and settings.
    Owner,
}

impl Role {
    /// Parses `owner`, `contributor` or `reader`.
    pub fn parse(s: &str) -> Result<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "owner" => Ok(Role::Owner),
            "contributor" => Ok(Role::Contributor),
            "reader" => Ok(Role::Reader),
            other => Err(Error::Invalid(format!(
                "unknown role '{}': use owner, contributor or reader",
                shorten(other, 40)
            ))),
        }
    }

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Contributor => "contributor",
            Role::Reader => "reader",
        }
    }
}

/// Validates a user name: 1 to 64 of `A-Za-z0-9._@-` (UPNs fit).
pub fn user_name(name: &str) -> Result<&str> {
    if !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
    {
        Ok(name)
    } else {
        Err(Error::Invalid(format!(
            "invalid user name '{}': use 1 to 64 of A-Z, a-z, 0-9, '.', '_', '@', '-'",
            shorten(name, 60)
        )))
    }
}

/// Whether `id` has the shape of a copilot session id (`s` then hex, as
/// [`bulwark_copilot::session::SessionStore::create`] makes them).
pub fn is_session_id(id: &str) -> bool {
    id.len() >= 2
        && id.len() <= 48
        && id.starts_with('s')
        && id[1..].bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// At most `max` characters of `s`, for echoing input in messages.
pub fn shorten(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_names_reject_path_syntax() {
        for bad in ["", "..", "../x", "a/b", "A", "a.b", "a b", "%2e%2e", &"a".repeat(41), "é"] {
            assert!(WorkspaceName::parse(bad).is_err(), "{bad:?}");
        }
        for good in ["default", "soc-2", "x", &"a".repeat(40)] {
            assert!(WorkspaceName::parse(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn session_ids_are_checked_before_lookup() {
        assert!(is_session_id("s18a2b3c0"));
        for bad in ["", "s", "x123", "s12/../", "s' OR 1=1 --", "S12", "sABC"] {
            assert!(!is_session_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn roles_order_by_power() {
        assert!(Role::Owner > Role::Contributor && Role::Contributor > Role::Reader);
        assert_eq!(Role::parse(" Owner ").ok(), Some(Role::Owner));
        assert!(Role::parse("admin").is_err());
    }
}
