//! Entities: the things an investigation is about, as they appear across tables.
use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of an entity, following Defender XDR's evidence types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A device (host name).
    Device,
    /// A user account (UPN or DOMAIN\name).
    User,
    /// A mailbox (email address).
    Mailbox,
    /// An IPv4 or IPv6 address.
    Ip,
    /// A domain name.
    Domain,
    /// A URL.
    Url,
    /// A file, by name or path.
    File,
    /// A file hash (MD5, SHA-1 or SHA-256).
    FileHash,
    /// A process (command line).
    Process,
    /// A registry key or value.
    RegistryKey,
    /// A cloud application or service.
    CloudApp,
}

impl EntityKind {
    /// Lower-case name used in JSON and in text.
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Device => "device",
            EntityKind::User => "user",
            EntityKind::Mailbox => "mailbox",
            EntityKind::Ip => "ip",
            EntityKind::Domain => "domain",
            EntityKind::Url => "url",
            EntityKind::File => "file",
            EntityKind::FileHash => "file_hash",
            EntityKind::Process => "process",
            EntityKind::RegistryKey => "registry_key",
            EntityKind::CloudApp => "cloud_app",
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An entity: a kind and the value that identifies it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Entity {
    /// What it is.
    pub kind: EntityKind,
    /// How it is written in the data (host name, UPN, address, hash …).
    pub value: String,
}

impl Entity {
    /// Builds an entity.
    pub fn new(kind: EntityKind, value: impl Into<String>) -> Self {
        Entity { kind, value: value.into() }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}
