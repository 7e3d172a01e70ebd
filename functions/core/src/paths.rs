//! The layout of the repository Berth writes (the README's "The GitOps repository Berth
//! writes"). Paths are only ever built from validated names, each of which is a single DNS-1123
//! label, so no input can name a path outside `tenants/<tenant>/`.

use crate::names::{EnvName, ModuleName, TenantName};

pub const TENANTS_DIR: &str = "tenants";

/// `tenants/<tenant>/`, with the trailing slash, for prefix checks.
pub fn tenant_dir(tenant: &TenantName) -> String {
    format!("{TENANTS_DIR}/{tenant}/")
}

/// The Kubernetes namespace of `tenant`'s environment `env`: `<tenant>-<env>`, as the
/// ApplicationSets in `infra/` name it.
pub fn namespace(tenant: &TenantName, env: &EnvName) -> String {
    format!("{tenant}-{env}")
}

/// The tenant whose folder holds `path` (`tenants/<tenant>/…`), when its name is valid.
pub fn tenant_of(path: &str) -> Option<TenantName> {
    let rest = path.strip_prefix(TENANTS_DIR)?.strip_prefix('/')?;
    let (name, inside) = rest.split_once('/')?;
    if inside.is_empty() {
        return None;
    }
    TenantName::parse("tenant", name).ok()
}

/// `tenants/<tenant>/tenant.yaml`: the tenant's spec.
pub fn tenant_spec(tenant: &TenantName) -> String {
    format!("{TENANTS_DIR}/{tenant}/tenant.yaml")
}

/// `tenants/<tenant>/<env>/base.yaml`: values for `charts/tenant`.
pub fn base_values(tenant: &TenantName, env: &EnvName) -> String {
    format!("{TENANTS_DIR}/{tenant}/{env}/base.yaml")
}

/// `tenants/<tenant>/<env>/modules/<module>.yaml`: values for `charts/modules/<module>`.
pub fn module_values(tenant: &TenantName, env: &EnvName, module: &ModuleName) -> String {
    format!("{TENANTS_DIR}/{tenant}/{env}/modules/{module}.yaml")
}

/// What a path under `tenants/<tenant>/` is, when it is one of the files Berth knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantFile {
    Spec,
    Base(EnvName),
    Module(EnvName, ModuleName),
}

/// Classifies a path relative to `tenants/<tenant>/`; `None` for anything Berth does not write.
pub fn classify(relative: &str) -> Option<TenantFile> {
    let parts: Vec<&str> = relative.split('/').collect();
    match parts.as_slice() {
        ["tenant.yaml"] => Some(TenantFile::Spec),
        [env, "base.yaml"] => EnvName::parse("env", env).ok().map(TenantFile::Base),
        [env, "modules", file] => {
            let module = file.strip_suffix(".yaml")?;
            Some(TenantFile::Module(
                EnvName::parse("env", env).ok()?,
                ModuleName::parse("module", module).ok()?,
            ))
        }
        _ => None,
    }
}

/// True when `path` is a normal relative path strictly inside `tenants/<tenant>/`.
pub fn is_inside_tenant(tenant: &TenantName, path: &str) -> bool {
    let Some(rest) = path.strip_prefix(&tenant_dir(tenant)) else {
        return false;
    };
    !rest.is_empty()
        && rest
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TenantName {
        TenantName::parse("name", s).unwrap()
    }

    #[test]
    fn builds_the_design_layout() {
        let env = EnvName::parse("env", "dev").unwrap();
        let module = ModuleName::parse("module", "postgres").unwrap();
        assert_eq!(tenant_spec(&t("acme")), "tenants/acme/tenant.yaml");
        assert_eq!(base_values(&t("acme"), &env), "tenants/acme/dev/base.yaml");
        assert_eq!(
            module_values(&t("acme"), &env, &module),
            "tenants/acme/dev/modules/postgres.yaml"
        );
    }

    #[test]
    fn classifies_known_files_only() {
        assert_eq!(classify("tenant.yaml"), Some(TenantFile::Spec));
        assert!(matches!(
            classify("dev/base.yaml"),
            Some(TenantFile::Base(_))
        ));
        assert!(matches!(
            classify("dev/modules/vault.yaml"),
            Some(TenantFile::Module(_, _))
        ));
        for other in [
            "README.md",
            "dev/modules/vault.yml",
            "Dev/base.yaml",
            "../x/tenant.yaml",
            "a/b/c/d",
        ] {
            assert_eq!(classify(other), None, "{other}");
        }
    }

    #[test]
    fn inside_tenant_refuses_escapes_and_neighbours() {
        let acme = t("acme");
        assert!(is_inside_tenant(&acme, "tenants/acme/tenant.yaml"));
        for outside in [
            "tenants/acme",
            "tenants/acme/",
            "tenants/acme2/x",
            "tenants/acme/../x",
            "tenants/acme//x",
            "x",
        ] {
            assert!(!is_inside_tenant(&acme, outside), "{outside}");
        }
    }
}
