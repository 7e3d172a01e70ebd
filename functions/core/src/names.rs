//! Validated names. A value of these types is a DNS-1123 label, so it is safe as a Kubernetes
//! name and as one segment of a repository path: it can never contain `/`, `.` or `..`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::FieldError;

/// The longest DNS-1123 label, and so the longest namespace or Application label value.
pub const DNS_LABEL_MAX: usize = 63;

/// Names a tenant may not take: they clash with namespaces the cluster or Berth itself uses,
/// or with `tenants/catalog.yaml`.
const RESERVED_TENANT_NAMES: &[&str] = &[
    "default",
    "argocd",
    "berth",
    "catalog",
    "kube",
    "kubernetes",
    "system",
    "tenants",
];
const RESERVED_TENANT_PREFIXES: &[&str] = &["kube-", "openshift-", "argocd-"];

/// Checks a DNS-1123 label: lower-case alphanumerics and `-`, starting and ending alphanumeric.
pub fn check_dns_label(field: &str, value: &str) -> Result<(), FieldError> {
    if value.is_empty() {
        return Err(FieldError::invalid(field, "must not be empty"));
    }
    if value.len() > DNS_LABEL_MAX {
        return Err(FieldError::invalid(
            field,
            format!(
                "must be at most {DNS_LABEL_MAX} characters, got {}",
                value.len()
            ),
        ));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if let Some(bad) = value.chars().find(|c| !allowed(*c)) {
        return Err(FieldError::invalid(
            field,
            format!("may contain only a-z, 0-9 and '-', found {bad:?}"),
        ));
    }
    if value.starts_with('-') || value.ends_with('-') {
        return Err(FieldError::invalid(
            field,
            "must start and end with a letter or digit",
        ));
    }
    Ok(())
}

macro_rules! label_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parses a name, naming `field` in the error.
            pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
                check_dns_label(field, value)?;
                Ok(Self(value.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(stringify!($name), &raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

label_type!(
    /// An environment such as `dev`, `staging`, `prod`.
    EnvName
);
label_type!(
    /// A module of the catalog such as `postgres`.
    ModuleName
);
label_type!(
    /// A tier of the catalog such as `standard`.
    TierName
);
label_type!(
    /// A cluster of the catalog such as `prod-eu`: the name Argo CD knows it by.
    ClusterName
);

/// A tenant's name. Beyond being a DNS-1123 label it is not reserved; the catalog further
/// bounds its length so that `<tenant>-<env>-<module>` fits a label (see
/// [`crate::Catalog::check_tenant_name`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TenantName(String);

impl TenantName {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        check_dns_label(field, value)?;
        if RESERVED_TENANT_NAMES.contains(&value) {
            return Err(FieldError::invalid(field, format!("{value:?} is reserved")));
        }
        if let Some(prefix) = RESERVED_TENANT_PREFIXES
            .iter()
            .find(|p| value.starts_with(**p))
        {
            return Err(FieldError::invalid(
                field,
                format!("names starting with {prefix:?} are reserved"),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TenantName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse("name", &raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_dns_labels() {
        for ok in ["a", "acme", "acme-2", "0x", &"a".repeat(63)] {
            assert!(check_dns_label("name", ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_non_labels_naming_the_field() {
        for bad in [
            "",
            "-a",
            "a-",
            "Acme",
            "a_b",
            "a.b",
            "a/b",
            "..",
            "é",
            &"a".repeat(64),
        ] {
            let err = check_dns_label("envs[0]", bad).unwrap_err();
            assert_eq!(err.field, "envs[0]", "{bad}");
        }
    }

    #[test]
    fn refuses_reserved_tenant_names() {
        for bad in [
            "default",
            "kube-system",
            "kube-foo",
            "argocd",
            "berth",
            "catalog",
        ] {
            let err = TenantName::parse("name", bad).unwrap_err();
            assert!(err.reason.contains("reserved"), "{bad}: {err}");
        }
        assert!(TenantName::parse("name", "kubed").is_ok());
    }

    #[test]
    fn deserializing_checks_the_name() {
        assert!(serde_json::from_str::<EnvName>("\"Dev\"").is_err());
        assert_eq!(
            serde_json::from_str::<EnvName>("\"dev\"").unwrap().as_str(),
            "dev"
        );
    }

    proptest! {
        #[test]
        fn a_parsed_name_is_one_safe_path_segment(raw in "\\PC{0,70}") {
            if let Ok(name) = TenantName::parse("name", &raw) {
                let s = name.as_str();
                prop_assert!(!s.is_empty() && s.len() <= 63);
                prop_assert!(!s.contains('/') && !s.contains('.') && !s.contains('\\'));
            }
        }
    }
}
