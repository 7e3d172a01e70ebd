//! Request bodies, parsed from JSON with errors that name the field: unknown fields are
//! refused, every name is validated, and lists may not repeat an entry.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::files::RESERVED_VALUE_KEYS;
use crate::names::{ClusterName, EnvName, ModuleName, TenantName, TierName, check_dns_label};
use crate::request::{ModuleChange, Move, NewTenant, Promotion, TenantPatch};

const DISPLAY_NAME_MAX: usize = 200;
const OWNER_MAX: usize = 254;
const VERSION_MAX: usize = 64;

/// A JSON object whose keys have been checked against the fields a body allows. Nested objects
/// (`Fields::nested`) name their fields with their path (`gates.soak`).
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(body: &'a Value, allowed: &[&str]) -> Result<Self, FieldError> {
        Self::at("", body, allowed)
    }

    /// The object at `path` (`""` for the body itself), its fields named under that path.
    pub(crate) fn at(path: &str, body: &'a Value, allowed: &[&str]) -> Result<Self, FieldError> {
        let Value::Object(map) = body else {
            let field = if path.is_empty() { "body" } else { path };
            return Err(FieldError::invalid(field, "must be a JSON object"));
        };
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}.")
        };
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(FieldError::invalid(
                format!("{prefix}{unknown}"),
                format!("unknown field; allowed: {}", allowed.join(", ")),
            ));
        }
        Ok(Self { map, prefix })
    }

    /// The name a caller sees for `field`.
    pub(crate) fn name(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    pub(crate) fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    pub(crate) fn str(&self, field: &str) -> Result<Option<&'a str>, FieldError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(FieldError::invalid(self.name(field), "must be a string")),
        }
    }

    pub(crate) fn required_str(&self, field: &str) -> Result<&'a str, FieldError> {
        self.str(field)?
            .ok_or_else(|| FieldError::invalid(self.name(field), "is required"))
    }

    pub(crate) fn bool(&self, field: &str) -> Result<Option<bool>, FieldError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(FieldError::invalid(
                self.name(field),
                "must be true or false",
            )),
        }
    }

    /// An object whose keys and values are each checked by `key` and `value`, naming
    /// `field.<key>` in an error.
    fn label_map<K: Ord, V>(
        &self,
        field: &str,
        key: impl Fn(&str, &str) -> Result<K, FieldError>,
        value: impl Fn(&str, &str) -> Result<V, FieldError>,
    ) -> Result<BTreeMap<K, V>, FieldError> {
        let entries = match self.get(field) {
            None => return Ok(BTreeMap::new()),
            Some(Value::Object(entries)) => entries,
            Some(_) => return Err(FieldError::invalid(field, "must be an object of names")),
        };
        let mut map = BTreeMap::new();
        for (raw_key, raw_value) in entries {
            let entry_field = format!("{field}.{raw_key}");
            let Value::String(raw_value) = raw_value else {
                return Err(FieldError::invalid(entry_field, "must be a string"));
            };
            map.insert(key(&entry_field, raw_key)?, value(&entry_field, raw_value)?);
        }
        Ok(map)
    }

    /// A list of distinct names, each checked by `parse`.
    pub(crate) fn names<T: Ord>(
        &self,
        field: &str,
        parse: impl Fn(&str, &str) -> Result<T, FieldError>,
    ) -> Result<Vec<T>, FieldError> {
        let items = match self.get(field) {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(FieldError::invalid(
                    self.name(field),
                    "must be a list of names",
                ));
            }
        };
        let field = &self.name(field);
        let mut seen = BTreeSet::new();
        let mut names = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_field = format!("{field}[{i}]");
            let Value::String(raw) = item else {
                return Err(FieldError::invalid(item_field, "must be a string"));
            };
            if !seen.insert(raw.as_str()) {
                return Err(FieldError::invalid(
                    item_field,
                    format!("{raw} is listed twice"),
                ));
            }
            names.push(parse(&item_field, raw)?);
        }
        Ok(names)
    }
}

/// `POST /v1/tenants`.
pub fn parse_create_tenant(body: &Value) -> Result<(TenantName, NewTenant), FieldError> {
    let f = Fields::new(
        body,
        &[
            "name",
            "tier",
            "envs",
            "modules",
            "display_name",
            "owner",
            "constraints",
            "clusters",
        ],
    )?;
    let name = TenantName::parse("name", f.required_str("name")?)?;
    let tier = TierName::parse("tier", f.required_str("tier")?)?;
    let envs = f.names("envs", EnvName::parse)?;
    if envs.is_empty() {
        return Err(FieldError::invalid(
            "envs",
            "must name at least one environment",
        ));
    }
    let modules = f.names("modules", ModuleName::parse)?;
    let display_name = f
        .str("display_name")?
        .map(|s| check_display_name("display_name", s))
        .transpose()?;
    let owner = f
        .str("owner")?
        .map(|s| check_owner("owner", s))
        .transpose()?;
    let label = |field: &str, raw: &str| check_dns_label(field, raw).map(|()| raw.to_owned());
    let constraints = f.label_map("constraints", label, label)?;
    let clusters = f.label_map("clusters", EnvName::parse, ClusterName::parse)?;
    Ok((
        name,
        NewTenant {
            tier,
            envs,
            modules,
            display_name,
            owner,
            customer_id: None,
            constraints,
            clusters,
        },
    ))
}

/// `PATCH /v1/tenants/{tenant}`.
pub fn parse_tenant_patch(body: &Value) -> Result<TenantPatch, FieldError> {
    let f = Fields::new(body, &["tier", "display_name", "owner", "suspended"])?;
    let patch = TenantPatch {
        tier: f
            .str("tier")?
            .map(|s| TierName::parse("tier", s))
            .transpose()?,
        display_name: f
            .str("display_name")?
            .map(|s| check_display_name("display_name", s))
            .transpose()?,
        owner: f
            .str("owner")?
            .map(|s| check_owner("owner", s))
            .transpose()?,
        suspended: f.bool("suspended")?,
    };
    if patch == TenantPatch::default() {
        return Err(FieldError::invalid(
            "body",
            "set at least one of tier, display_name, owner, suspended",
        ));
    }
    Ok(patch)
}

/// `PUT /v1/tenants/{tenant}/envs/{env}/modules/{module}`; `env` and `module` come from the path.
pub fn parse_module_change(
    env: &str,
    module: &str,
    body: &Value,
) -> Result<ModuleChange, FieldError> {
    let env = EnvName::parse("env", env)?;
    let module = ModuleName::parse("module", module)?;
    let f = Fields::new(body, &["version", "values", "enable_dependencies"])?;
    let (version, values) = version_and_values(&f)?;
    Ok(ModuleChange {
        env,
        module,
        version,
        values,
        enable_dependencies: f.bool("enable_dependencies")?.unwrap_or(false),
    })
}

/// A module change's `version` and `values` (overrides, none of Berth's own keys).
pub(crate) fn version_and_values(
    f: &Fields,
) -> Result<(Option<String>, Map<String, Value>), FieldError> {
    let version = f
        .str("version")?
        .map(|v| check_version(&f.name("version"), v))
        .transpose()?;
    let values = match f.get("values") {
        None => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => {
            return Err(FieldError::invalid(
                f.name("values"),
                "must be an object of value overrides",
            ));
        }
    };
    if let Some(reserved) = values
        .keys()
        .find(|k| RESERVED_VALUE_KEYS.contains(&k.as_str()))
    {
        return Err(FieldError::invalid(
            f.name(&format!("values.{reserved}")),
            "is set by Berth and may not be overridden",
        ));
    }
    Ok((version, values))
}

/// `POST /v1/tenants/{tenant}/envs/{target}/promote`; `target` comes from the path.
pub fn parse_promotion(target: &str, body: &Value) -> Result<Promotion, FieldError> {
    let to = EnvName::parse("env", target)?;
    let f = Fields::new(body, &["from", "modules"])?;
    let from = EnvName::parse("from", f.required_str("from")?)?;
    if from == to {
        return Err(FieldError::invalid(
            "from",
            format!("{from} is the environment being promoted to"),
        ));
    }
    let modules = f.names("modules", ModuleName::parse)?;
    Ok(Promotion { from, to, modules })
}

/// `POST /v1/tenants/{tenant}/envs/{env}/move`; `confirmed` when `?confirm=` named the tenant.
pub fn parse_move(env: &str, body: &Value, confirmed: bool) -> Result<Move, FieldError> {
    let env = EnvName::parse("env", env)?;
    let f = Fields::new(body, &["to"])?;
    let to = ClusterName::parse("to", f.required_str("to")?)?;
    Ok(Move { env, to, confirmed })
}

fn check_display_name(field: &str, value: &str) -> Result<String, FieldError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(FieldError::invalid(field, "must not be blank"));
    }
    if trimmed.chars().count() > DISPLAY_NAME_MAX {
        return Err(FieldError::invalid(
            field,
            format!("must be at most {DISPLAY_NAME_MAX} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(FieldError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

fn check_owner(field: &str, value: &str) -> Result<String, FieldError> {
    let bad = || FieldError::invalid(field, "must be an e-mail address like ops@example.com");
    if value.len() > OWNER_MAX || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = value.split_once('@').ok_or_else(bad)?;
    let domain_ok = domain.contains('.')
        && !domain.contains('@')
        && !domain.starts_with('.')
        && !domain.ends_with('.');
    if local.is_empty() || !domain_ok {
        return Err(bad());
    }
    Ok(value.to_owned())
}

fn check_version(field: &str, value: &str) -> Result<String, FieldError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_');
    let starts_ok = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if value.len() > VERSION_MAX || !starts_ok || !value.chars().all(allowed) {
        return Err(FieldError::invalid(
            field,
            format!(
                "must be a version like 1.4.2 (letters, digits, . - + _; at most {VERSION_MAX})"
            ),
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(err: FieldError) -> String {
        err.field
    }

    #[test]
    fn create_reads_every_field() {
        let (name, t) = parse_create_tenant(&json!({
            "name": "acme", "tier": "standard", "envs": ["dev", "prod"], "modules": ["postgres"],
            "display_name": "  Acme Inc. ", "owner": "ops@acme.test"
        }))
        .unwrap();
        assert_eq!(name.as_str(), "acme");
        assert_eq!(t.envs.len(), 2);
        assert_eq!(t.display_name.as_deref(), Some("Acme Inc."));
    }

    #[test]
    fn create_errors_name_the_field() {
        let base = json!({"name": "acme", "tier": "standard", "envs": ["dev"]});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            field_of(parse_create_tenant(&b).unwrap_err())
        };
        assert_eq!(with("colour", json!("red")), "colour");
        assert_eq!(with("name", json!("Acme")), "name");
        assert_eq!(with("name", json!(7)), "name");
        assert_eq!(with("envs", json!([])), "envs");
        assert_eq!(with("envs", json!(["dev", "dev"])), "envs[1]");
        assert_eq!(with("envs", json!(["dev", "../x"])), "envs[1]");
        assert_eq!(with("modules", json!(["ok", 3])), "modules[1]");
        assert_eq!(with("owner", json!("not an email")), "owner");
        assert_eq!(with("display_name", json!("   ")), "display_name");
        assert_eq!(
            with("constraints", json!({"region": "Europe"})),
            "constraints.region"
        );
        assert_eq!(
            with("constraints", json!({"region": 1})),
            "constraints.region"
        );
        assert_eq!(with("constraints", json!(["eu"])), "constraints");
        assert_eq!(
            with("clusters", json!({"prod": "Prod_EU"})),
            "clusters.prod"
        );
        assert_eq!(
            with("clusters", json!({"../x": "prod-eu"})),
            "clusters.../x"
        );
        assert_eq!(
            field_of(parse_create_tenant(&json!({"tier": "bronze", "envs": ["dev"]})).unwrap_err()),
            "name"
        );
        assert_eq!(
            field_of(parse_create_tenant(&json!([1])).unwrap_err()),
            "body"
        );
    }

    #[test]
    fn patch_needs_a_field_and_checks_types() {
        assert_eq!(
            field_of(parse_tenant_patch(&json!({})).unwrap_err()),
            "body"
        );
        assert_eq!(
            field_of(parse_tenant_patch(&json!({"suspended": "yes"})).unwrap_err()),
            "suspended"
        );
        assert_eq!(
            field_of(parse_tenant_patch(&json!({"name": "x"})).unwrap_err()),
            "name"
        );
        assert_eq!(
            parse_tenant_patch(&json!({"tier": "premium"}))
                .unwrap()
                .tier
                .unwrap()
                .as_str(),
            "premium"
        );
    }

    #[test]
    fn module_change_refuses_reserved_values_and_bad_versions() {
        let err =
            parse_module_change("dev", "postgres", &json!({"values": {"tenant": {}}})).unwrap_err();
        assert_eq!(err.field, "values.tenant");
        assert_eq!(
            field_of(
                parse_module_change("dev", "postgres", &json!({"version": "1 2"})).unwrap_err()
            ),
            "version"
        );
        assert_eq!(
            field_of(parse_module_change("dev", "postgres", &json!({"values": [1]})).unwrap_err()),
            "values"
        );
        assert_eq!(
            field_of(parse_module_change("DEV", "postgres", &json!({})).unwrap_err()),
            "env"
        );
        assert_eq!(
            field_of(parse_module_change("dev", "pg/../x", &json!({})).unwrap_err()),
            "module"
        );
        let ok = parse_module_change(
            "dev",
            "postgres",
            &json!({"version": "1.4.2", "values": {"replicas": 2}}),
        )
        .unwrap();
        assert_eq!(ok.values["replicas"], json!(2));
    }
}
