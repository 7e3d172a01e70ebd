//! `POST /v1/rollouts`: a rollout's body, parsed with errors that name the field by its path
//! (`change.reconfigure.values.tenant`, `waves[1]`, `gates.soak`).
//!
//! ```json
//! {"selector": {"tiers": ["premium"], "has_module": "postgres"},
//!  "change": {"reconfigure": {"module": "postgres", "version": "16.6"}},
//!  "canaries": ["acme"], "waves": ["10%", "50%"],
//!  "gates": {"soak": "10m", "failure_budget": {"count": 1, "percent": 5}, "progress_deadline": "30m"},
//!  "on_failure": "pause", "then_set_default": true, "skip_invalid": false}
//! ```

use std::time::Duration;

use serde_json::Value;

use super::{FleetChange, Gates, OnFailure, RolloutSpec, Selector, Step, WavePolicy};
use crate::body::{Fields, version_and_values};
use crate::error::FieldError;
use crate::files::TenantState;
use crate::names::{EnvName, ModuleName, TenantName, TierName};

/// The longest soak or progress deadline a rollout may ask for.
const GATE_MAX: Duration = Duration::from_secs(7 * 24 * 3600);

pub fn parse_rollout(body: &Value) -> Result<RolloutSpec, FieldError> {
    let f = Fields::new(
        body,
        &[
            "selector",
            "change",
            "canaries",
            "waves",
            "gates",
            "on_failure",
            "then_set_default",
            "skip_invalid",
        ],
    )?;
    let change = parse_change(
        f.get("change")
            .ok_or_else(|| FieldError::invalid("change", "is required"))?,
    )?;
    let then_set_default = f.bool("then_set_default")?.unwrap_or(false);
    if then_set_default
        && !matches!(
            &change,
            FleetChange::Reconfigure {
                version: Some(_),
                ..
            }
        )
    {
        return Err(FieldError::invalid(
            "then_set_default",
            "needs a reconfigure change that names a version",
        ));
    }
    Ok(RolloutSpec {
        selector: match f.get("selector") {
            Some(selector) => parse_selector(selector)?,
            None => Selector::default(),
        },
        change,
        canaries: f.names("canaries", TenantName::parse)?,
        waves: parse_waves(f.get("waves"))?,
        gates: match f.get("gates") {
            Some(gates) => parse_gates(gates)?,
            None => Gates::default(),
        },
        on_failure: match f.str("on_failure")? {
            None | Some("pause") => OnFailure::Pause,
            Some("revert") => OnFailure::Revert,
            Some(_) => return Err(FieldError::invalid("on_failure", "must be pause or revert")),
        },
        then_set_default,
        skip_invalid: f.bool("skip_invalid")?.unwrap_or(false),
    })
}

fn parse_selector(body: &Value) -> Result<Selector, FieldError> {
    let f = Fields::at(
        "selector",
        body,
        &["tiers", "tenants", "envs", "has_module", "states"],
    )?;
    let states = f.names("states", |field, raw| match raw {
        "active" => Ok(TenantState::Active),
        "suspended" => Ok(TenantState::Suspended),
        _ => Err(FieldError::invalid(field, "must be active or suspended")),
    })?;
    Ok(Selector {
        tiers: f.names("tiers", TierName::parse)?,
        tenants: f.names("tenants", TenantName::parse)?,
        envs: f.names("envs", EnvName::parse)?,
        has_module: f
            .str("has_module")?
            .map(|m| ModuleName::parse(&f.name("has_module"), m))
            .transpose()?,
        states: if states.is_empty() {
            Selector::default().states
        } else {
            states
        },
    })
}

/// Exactly one of `reconfigure`, `enable`, `disable`.
fn parse_change(body: &Value) -> Result<FleetChange, FieldError> {
    let f = Fields::at("change", body, &["reconfigure", "enable", "disable"])?;
    let kinds: Vec<&str> = ["reconfigure", "enable", "disable"]
        .into_iter()
        .filter(|k| f.get(k).is_some())
        .collect();
    let [kind] = kinds.as_slice() else {
        return Err(FieldError::invalid(
            "change",
            "must hold exactly one of reconfigure, enable, disable",
        ));
    };
    let path = format!("change.{kind}");
    let inner = f.get(kind).unwrap_or(&Value::Null);
    if *kind == "disable" {
        let d = Fields::at(&path, inner, &["module"])?;
        let module = ModuleName::parse(&d.name("module"), d.required_str("module")?)?;
        return Ok(FleetChange::Disable { module });
    }
    let c = Fields::at(&path, inner, &["module", "version", "values"])?;
    let module = ModuleName::parse(&c.name("module"), c.required_str("module")?)?;
    let (version, values) = version_and_values(&c)?;
    if *kind == "reconfigure" && version.is_none() && values.is_empty() {
        return Err(FieldError::invalid(
            path,
            "must name a version or values: otherwise it changes nothing",
        ));
    }
    Ok(match *kind {
        "reconfigure" => FleetChange::Reconfigure {
            module,
            version,
            values,
        },
        _ => FleetChange::Enable {
            module,
            version,
            values,
        },
    })
}

/// Absent: canaries, 10 %, 50 %, the rest. `"by_tier"`, or a list of cumulative steps:
/// whole numbers (tenants) or `"<n>%"` (1 to 100).
fn parse_waves(body: Option<&Value>) -> Result<WavePolicy, FieldError> {
    let steps = match body {
        None => return Ok(WavePolicy::default()),
        Some(Value::String(s)) if s == "by_tier" => return Ok(WavePolicy::ByTier),
        Some(Value::Array(steps)) if !steps.is_empty() => steps,
        Some(_) => {
            return Err(FieldError::invalid(
                "waves",
                "must be \"by_tier\" or a non-empty list of steps such as [\"10%\", \"50%\"] or [5, 50]",
            ));
        }
    };
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let field = format!("waves[{i}]");
            match step {
                Value::Number(n) => n
                    .as_u64()
                    .filter(|n| (1..=1_000_000).contains(n))
                    .map(|n| Step::Count(n as u32))
                    .ok_or_else(|| {
                        FieldError::invalid(field, "must be a whole number of tenants, at least 1")
                    }),
                Value::String(s) => s
                    .strip_suffix('%')
                    .and_then(|p| p.parse::<u32>().ok())
                    .filter(|p| (1..=100).contains(p))
                    .map(Step::Percent)
                    .ok_or_else(|| {
                        FieldError::invalid(field, "must be a percentage from 1% to 100%")
                    }),
                _ => Err(FieldError::invalid(
                    field,
                    "must be a number of tenants or a percentage",
                )),
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(WavePolicy::Steps)
}

fn parse_gates(body: &Value) -> Result<Gates, FieldError> {
    let f = Fields::at(
        "gates",
        body,
        &["soak", "failure_budget", "progress_deadline"],
    )?;
    let defaults = Gates::default();
    let duration = |field: &str, default: Duration| -> Result<Duration, FieldError> {
        match f.str(field)? {
            None => Ok(default),
            Some(raw) => parse_duration(raw)
                .filter(|d| *d <= GATE_MAX)
                .ok_or_else(|| {
                    FieldError::invalid(
                        f.name(field),
                        "must be a duration such as 90s, 10m or 2h, at most 7 days",
                    )
                }),
        }
    };
    let (count, percent) = match f.get("failure_budget") {
        None => (0, 0),
        Some(budget) => {
            let b = Fields::at("gates.failure_budget", budget, &["count", "percent"])?;
            let number = |field: &str, max: u64| -> Result<u32, FieldError> {
                match b.get(field) {
                    None => Ok(0),
                    Some(v) => v
                        .as_u64()
                        .filter(|n| *n <= max)
                        .map(|n| n as u32)
                        .ok_or_else(|| {
                            FieldError::invalid(
                                b.name(field),
                                format!("must be a whole number from 0 to {max}"),
                            )
                        }),
                }
            };
            (number("count", 1_000_000)?, number("percent", 100)?)
        }
    };
    Ok(Gates {
        soak: duration("soak", defaults.soak)?,
        failure_budget_count: count,
        failure_budget_percent: percent,
        progress_deadline: duration("progress_deadline", defaults.progress_deadline)?
            .max(Duration::from_secs(1)),
    })
}

/// `90s`, `10m`, `2h`, `1d`, or `0s`.
fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = raw.split_at(split);
    let n: u64 = number.parse().ok()?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(unit).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(body: Value) -> String {
        parse_rollout(&body).unwrap_err().field
    }

    #[test]
    fn reads_a_whole_rollout() {
        let spec = parse_rollout(&json!({
            "selector": {"tiers": ["premium"], "has_module": "postgres", "states": ["active", "suspended"]},
            "change": {"reconfigure": {"module": "postgres", "version": "16.6", "values": {"replicas": 3}}},
            "canaries": ["acme"], "waves": ["10%", 40, "100%"],
            "gates": {"soak": "15m", "failure_budget": {"count": 1, "percent": 5}, "progress_deadline": "1h"},
            "on_failure": "revert", "then_set_default": true
        }))
        .unwrap();
        assert_eq!(spec.selector.states.len(), 2);
        assert_eq!(
            spec.waves,
            WavePolicy::Steps(vec![Step::Percent(10), Step::Count(40), Step::Percent(100)])
        );
        assert_eq!(spec.gates.soak, Duration::from_secs(900));
        assert_eq!(
            (
                spec.gates.failure_budget_count,
                spec.gates.failure_budget_percent
            ),
            (1, 5)
        );
        assert_eq!(spec.on_failure, OnFailure::Revert);
        let defaults =
            parse_rollout(&json!({"change": {"disable": {"module": "monitoring"}}})).unwrap();
        assert_eq!(defaults.waves, WavePolicy::default());
        assert_eq!(defaults.selector.states, vec![TenantState::Active]);
        assert_eq!(defaults.gates, Gates::default());
    }

    #[test]
    fn names_each_bad_field_by_its_path() {
        let change = json!({"reconfigure": {"module": "postgres", "version": "16.6"}});
        assert_eq!(field(json!({})), "change");
        assert_eq!(
            field(
                json!({"change": {"reconfigure": {"module": "postgres", "values": {"tenant": 1}}}})
            ),
            "change.reconfigure.values.tenant"
        );
        assert_eq!(
            field(json!({"change": {"enable": {"module": "Bad Name"}}})),
            "change.enable.module"
        );
        assert_eq!(
            field(json!({"change": {"enable": {"module": "x"}, "disable": {"module": "y"}}})),
            "change"
        );
        assert_eq!(
            field(json!({"change": {"reconfigure": {"module": "postgres"}}})),
            "change.reconfigure"
        );
        assert_eq!(
            field(json!({"change": change, "waves": ["10%", "0%"]})),
            "waves[1]"
        );
        assert_eq!(field(json!({"change": change, "waves": []})), "waves");
        assert_eq!(
            field(json!({"change": change, "gates": {"soak": "ten minutes"}})),
            "gates.soak"
        );
        assert_eq!(
            field(json!({"change": change, "gates": {"failure_budget": {"percent": 101}}})),
            "gates.failure_budget.percent"
        );
        assert_eq!(
            field(json!({"change": change, "selector": {"tiers": ["premium", "premium"]}})),
            "selector.tiers[1]"
        );
        assert_eq!(
            field(json!({"change": change, "selector": {"colour": "red"}})),
            "selector.colour"
        );
        assert_eq!(
            field(json!({"change": {"enable": {"module": "vault"}}, "then_set_default": true})),
            "then_set_default"
        );
        assert_eq!(
            field(json!({"change": change, "on_failure": "shrug"})),
            "on_failure"
        );
    }
}
