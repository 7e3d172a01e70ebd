//! The infrastructure files, checked by the real tools: the Argo CD objects against the CRD
//! schemas of `../shared/schemas/argocd` (strict, as `kubectl apply --validate=strict` is), the
//! Kubernetes objects with kubernetes-validate, the SAM template with cfn-lint.

use std::collections::BTreeSet;
use std::process::Command;

use berth_tests::project_root;
use berth_tests::tools::{kubernetes_validate, run, tool};
use serde_json::Value;

/// Makes a CRD schema strict: an object that lists `properties` and says nothing of extra ones
/// (and does not preserve unknown fields) refuses them, as the API server's strict validation does.
fn strict(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let preserves =
                map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
            if map.contains_key("properties")
                && !map.contains_key("additionalProperties")
                && !preserves
            {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(strict);
        }
        Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

pub(crate) fn argocd_schema(name: &str) -> jsonschema::Validator {
    let path = project_root()
        .join("../shared/schemas/argocd")
        .join(format!("{name}.schema.json"));
    let mut schema: Value = serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap();
    strict(&mut schema);
    jsonschema::validator_for(&schema).unwrap()
}

fn infra_yaml(path: &str) -> Value {
    serde_yaml_ng::from_slice(&std::fs::read(project_root().join("infra").join(path)).unwrap())
        .unwrap()
}

pub(crate) fn assert_valid(validator: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}:\n{}", errors.join("\n"));
}

#[test]
fn argocd_objects_match_the_crd_schemas_strictly() {
    let appset = argocd_schema("applicationset");
    for file in [
        "argocd/applicationset-tenant-envs.yaml",
        "argocd/applicationset-modules.yaml",
    ] {
        assert_valid(&appset, &infra_yaml(file), file);
    }
    assert_valid(
        &argocd_schema("appproject"),
        &infra_yaml("argocd/appproject.yaml"),
        "appproject",
    );

    // The strictness is real: a misspelt field is refused.
    let mut broken = infra_yaml("argocd/applicationset-modules.yaml");
    broken["spec"]["template"]["spec"]["syncPolicy"]["automatd"] = Value::Bool(true);
    assert!(!appset.is_valid(&broken));
}

#[test]
fn the_project_allows_exactly_the_kinds_the_charts_render() {
    let project = infra_yaml("argocd/appproject.yaml");
    let allowed: BTreeSet<String> = project["spec"]["namespaceResourceWhitelist"]
        .as_array()
        .unwrap()
        .iter()
        .chain(
            project["spec"]["clusterResourceWhitelist"]
                .as_array()
                .unwrap(),
        )
        .map(|k| k["kind"].as_str().unwrap().to_owned())
        .collect();
    let out = Command::new("grep")
        .args(["-rhoE", "^kind: [A-Za-z]+"])
        .arg(project_root().join("charts"))
        .output()
        .unwrap();
    let rendered: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim_start_matches("kind: ").to_owned())
        .collect();
    assert_eq!(allowed, rendered);
}

#[test]
fn kubernetes_objects_validate() {
    for file in [
        "k8s/status-rbac.yaml",
        "k8s/status-rbac-member.yaml",
        "argocd/notifications.yaml",
    ] {
        kubernetes_validate(
            &std::fs::read_to_string(project_root().join("infra").join(file)).unwrap(),
        );
    }
    let rules = |file: &str| -> Vec<Value> {
        let rbac = std::fs::read_to_string(project_root().join("infra/k8s").join(file)).unwrap();
        let role: Value = serde_yaml_ng::from_str(rbac.split("\n---").next().unwrap()).unwrap();
        role["rules"].as_array().unwrap().clone()
    };
    for rule in rules("status-rbac.yaml")
        .iter()
        .chain(&rules("status-rbac-member.yaml"))
    {
        assert_eq!(
            rule["verbs"],
            serde_json::json!(["list"]),
            "list only, as the sweep reads: {rule}"
        );
    }
    // A member cluster runs no Argo CD for Berth: its role does not name Applications.
    let member = serde_json::to_string(&rules("status-rbac-member.yaml")).unwrap();
    assert!(!member.contains("applications"), "{member}");
}

#[test]
fn the_sam_template_passes_cfn_lint() {
    run(Command::new(tool("BERTH_CFN_LINT")).arg(project_root().join("infra/aws/template.yaml")));
}

#[test]
fn the_sam_template_passes_sam_validate_lint() {
    run(Command::new(tool("BERTH_SAM"))
        .args(["validate", "--lint", "--template"])
        .arg(project_root().join("infra/aws/template.yaml"))
        .env("SAM_CLI_TELEMETRY", "0"));
}

/// The SAM template, with CloudFormation's short tags (`!Ref`, `!If`, ...) kept as tagged values.
fn template() -> serde_yaml_ng::Value {
    serde_yaml_ng::from_slice(
        &std::fs::read(project_root().join("infra/aws/template.yaml")).unwrap(),
    )
    .unwrap()
}

/// The variables the template sets for `function`: the globals and its own.
fn template_variables(template: &serde_yaml_ng::Value, function: &str) -> BTreeSet<String> {
    let keys = |v: &serde_yaml_ng::Value| -> Vec<String> {
        v["Environment"]["Variables"]
            .as_mapping()
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut vars: BTreeSet<String> = keys(&template["Globals"]["Function"]).into_iter().collect();
    vars.extend(keys(&template["Resources"][function]["Properties"]));
    vars
}

/// A value every reader accepts for `name`.
fn valid_value(name: &str) -> String {
    match name {
        "BERTH_GIT_REMOTE" => "https://git.example.com/platform/tenants.git".into(),
        "BERTH_API_TOKENS" => "admin=0123456789abcdef".into(),
        "BERTH_API_AUTH" => "tokens".into(),
        "BERTH_DEFAULT_MODE" => "direct".into(),
        "BERTH_GIT_MAX_ATTEMPTS" => "25".into(),
        "BERTH_WEBHOOK_SECRETS_SIGNUP" => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        "BERTH_WEBHOOK_TOLERANCE_SECONDS" => "300".into(),
        "BERTH_GITHUB_API_URL" => "https://api.github.com".into(),
        "BERTH_GIT_BACKEND" => "git2".into(),
        "BERTH_GITHUB_AUTO_MERGE" => "squash".into(),
        "BERTH_GITHUB_APP_ID" | "BERTH_GITHUB_APP_INSTALLATION_ID" => "12345".into(),
        "BERTH_KUBE_SERVER" => "https://eks.example.com".into(),
        "BERTH_SYNC_TIMEOUT" => "1h".into(),
        "BERTH_SECRETS_TTL" => "5m".into(),
        "BERTH_REQUEST_RETENTION" => "30days".into(),
        "BERTH_CHART_INDEX_TTL" => "10m".into(),
        "BERTH_CHART_CREDENTIALS" => "registry.example.com=ci:secret-0123456789".into(),
        "BERTH_CORS_ORIGINS" => "https://app.example.com".into(),
        "BERTH_CONSOLE_AUTHORIZE_URL" => "https://login.example.com/oauth2/authorize".into(),
        "BERTH_CONSOLE_TOKEN_URL" => "https://login.example.com/oauth2/token".into(),
        // base64 of a PEM block (the reader checks the framing, not the certificate).
        "BERTH_KUBE_CA_DATA" => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .encode("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        }
        "AWS_REGION" => "us-east-1".into(),
        n if n.starts_with("BERTH_WEBHOOK_SECRETS_") => "webhook-secret-0123456789".into(),
        _ => "value-0123456789abcdef".into(),
    }
}

type Reader = fn(&dyn Fn(&str) -> Option<String>) -> Result<(), String>;

/// What each function's binary reads, through the same readers its `main` calls: the secret
/// references first, then its settings with each referenced secret holding a valid value, as
/// after the first read from Secrets Manager.
fn readers(function: &str) -> Reader {
    use berth_http::{Function, Settings};
    match function {
        "ApiFunction" => |var| {
            with_secrets(var, |var| {
                Settings::from_env(Function::Api, var)
                    .map(drop)
                    .map_err(|e| e.to_string())
            })
        },
        "WebhookFunction" => |var| {
            with_secrets(var, |var| {
                Settings::from_env(Function::Webhook, var).map_err(|e| e.to_string())?;
                berth_status::sync_timeout_from_env(var)
                    .map(drop)
                    .map_err(|e| e.to_string())
            })
        },
        "StatusFunction" => |var| {
            with_secrets(var, |var| {
                berth_usecases::settings::ServiceSettings::from_env(var)
                    .map_err(|e| e.to_string())?;
                berth_cluster::ClusterSource::from_env(var).map_err(|e| e.to_string())?;
                berth_status::sync_timeout_from_env(var)
                    .map(drop)
                    .map_err(|e| e.to_string())
            })
        },
        other => panic!("no reader for {other}"),
    }
}

/// Reads the secret references in `var`, then runs `read` with each referenced variable set.
fn with_secrets(
    var: &dyn Fn(&str) -> Option<String>,
    read: impl Fn(&dyn Fn(&str) -> Option<String>) -> Result<(), String>,
) -> Result<(), String> {
    let refs =
        berth_usecases::settings::secrets::SecretRefs::from_env(var).map_err(|e| e.to_string())?;
    let referenced = |name: &str| refs.refs.iter().any(|r| r.var == name);
    read(&|name| {
        if referenced(name) {
            Some(valid_value(name))
        } else {
            var(name)
        }
    })
}

/// What Lambda itself sets in every function's environment.
const LAMBDA_SETS: &[&str] = &[
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
];

/// Runs `reader` over an environment holding valid values for `set` (and what Lambda sets), and
/// returns the names it asked for, with the outcome.
fn read_with(reader: Reader, set: &BTreeSet<String>) -> (BTreeSet<String>, Result<(), String>) {
    let asked = std::cell::RefCell::new(BTreeSet::new());
    let var = |name: &str| {
        asked.borrow_mut().insert(name.to_owned());
        (set.contains(name) || LAMBDA_SETS.contains(&name)).then(|| valid_value(name))
    };
    let outcome = reader(&var);
    (asked.into_inner(), outcome)
}

/// Configuration parity: every variable a function requires is set for it in the template, the
/// template sets no variable its function does not read, and every parameter is used.
#[test]
fn the_template_sets_what_each_function_reads_and_nothing_else() {
    let template = template();
    // Lambda sets these itself; the template must not.
    let lambda_sets = |name: &str| name.starts_with("AWS_");
    for function in ["ApiFunction", "WebhookFunction", "StatusFunction"] {
        let reader = readers(function);
        let set = template_variables(&template, function);
        // The api reads different variables per auth mode; the template sets both under
        // conditions, so each mode is read with the other's variables taken away.
        let modes: Vec<BTreeSet<String>> = if function == "ApiFunction" {
            let jwt: BTreeSet<String> = set
                .iter()
                .filter(|v| *v != "BERTH_API_TOKENS_ARN")
                .cloned()
                .collect();
            let tokens: BTreeSet<String> = set
                .iter()
                .filter(|v| !v.starts_with("BERTH_JWT_") && !v.starts_with("BERTH_CONSOLE_"))
                .cloned()
                .collect();
            vec![jwt, tokens]
        } else {
            vec![set.clone()]
        };
        // The GitHub credential is the App's or the token, never both, by a condition too.
        let app = |v: &String| v.starts_with("BERTH_GITHUB_APP_");
        let modes: Vec<BTreeSet<String>> = modes
            .into_iter()
            .flat_map(|env| {
                let with_token = env.iter().filter(|v| !app(v)).cloned().collect();
                let with_app = env
                    .iter()
                    .filter(|v| *v != "BERTH_GITHUB_TOKEN_ARN")
                    .cloned()
                    .collect();
                [with_token, with_app]
            })
            .collect();
        let mut read = BTreeSet::new();
        for (i, env) in modes.iter().enumerate() {
            // With ApiAuth's two values, as the template's conditions give them.
            let mut env = env.clone();
            // The first two are the api's jwt mode, with either GitHub credential.
            if function == "ApiFunction" && i < 2 {
                env.remove("BERTH_API_AUTH");
                let (asked, outcome) = read_with(
                    |var| {
                        readers("ApiFunction")(&|n| {
                            if n == "BERTH_API_AUTH" {
                                Some("jwt".into())
                            } else {
                                var(n)
                            }
                        })
                    },
                    &env,
                );
                assert_eq!(outcome, Ok(()), "{function} in jwt mode: {asked:?}");
                read.extend(asked);
                read.insert("BERTH_API_AUTH".into());
                continue;
            }
            let (asked, outcome) = read_with(reader, &env);
            assert_eq!(
                outcome,
                Ok(()),
                "{function} refuses the template's variables {env:?}"
            );
            // A variable is required when the function refuses to start without it.
            for name in &env {
                let mut without = env.clone();
                without.remove(name);
                let (_, outcome) = read_with(reader, &without);
                if let Err(e) = outcome
                    && e.contains(name.as_str())
                {
                    assert!(set.contains(name), "{function} requires {name}: {e}");
                }
            }
            read.extend(asked);
        }
        let unread: Vec<&String> = set
            .iter()
            .filter(|v| !read.contains(*v) || lambda_sets(v))
            .collect();
        assert!(
            unread.is_empty(),
            "the template sets {unread:?} for {function}, which it never reads"
        );
    }

    // Required variables missing from the template show up as refusals above; here, a required
    // variable absent from the template entirely.
    for (function, required) in [
        ("ApiFunction", ["BERTH_GIT_REMOTE", "BERTH_TABLE"]),
        (
            "WebhookFunction",
            ["BERTH_GIT_REMOTE", "BERTH_WEBHOOK_SECRETS_ARGOCD_ARN"],
        ),
        ("StatusFunction", ["BERTH_GIT_REMOTE", "BERTH_TABLE"]),
    ] {
        let mut env = template_variables(&template, function);
        for name in required {
            assert!(env.remove(name), "{function} lacks {name}");
        }
        let (_, outcome) = read_with(readers(function), &env);
        assert!(outcome.is_err(), "{function} starts without {required:?}");
    }

    // Every parameter is referenced outside the Parameters section.
    let text = std::fs::read_to_string(project_root().join("infra/aws/template.yaml")).unwrap();
    let body = &text[text.find("\nConditions:").expect("a Conditions section")..];
    for name in template["Parameters"]
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(|k| k.as_str())
    {
        let used = [
            format!("!Ref {name}"),
            format!("${{{name}}}"),
            format!("Ref: {name}"),
        ]
        .iter()
        .any(|form| body.contains(form.as_str()));
        assert!(used, "parameter {name} is never used");
    }
}

/// A claim's lease must outlast the function holding it: Lambda kills a function at its
/// timeout, and a retry may take the claim over only once whoever held it is surely gone.
#[test]
fn claim_leases_outlast_the_functions_that_hold_them() {
    let template = template();
    let default_timeout = template["Globals"]["Function"]["Timeout"].as_u64().unwrap();
    let lease = berth_usecases::write::timing::DEFAULT_CLAIM_LEASE.as_secs();
    for function in ["ApiFunction", "WebhookFunction"] {
        let timeout = template["Resources"][function]["Properties"]["Timeout"]
            .as_u64()
            .unwrap_or(default_timeout);
        assert!(
            timeout < lease,
            "{function}: timeout {timeout} s, claim lease {lease} s"
        );
        assert!(
            !template_variables(&template, function).contains("BERTH_CLAIM_LEASE"),
            "{function} keeps the default lease this test checks"
        );
    }
}

/// The status function's role reaches the catalog's clusters through EKS access entries, one
/// per ARN the stack is given, each mapped to the member group whose ClusterRole only lists
/// workloads and Ingresses; it holds no EKS permission in IAM.
#[test]
fn the_status_role_reaches_exactly_the_clusters_it_is_given() {
    let template = template();
    let each = &template["Resources"]["Fn::ForEach::MemberAccessEntries"];
    let seq = each.as_sequence().expect("a ForEach over the member ARNs");
    assert_eq!(seq[0].as_str(), Some("MemberArn"));
    let entry = &seq[2]["StatusAccessEntry&{MemberArn}"];
    assert_eq!(entry["Type"].as_str(), Some("AWS::EKS::AccessEntry"));
    assert_eq!(entry["Condition"].as_str(), Some("HasMemberClusters"));
    let groups: Vec<&str> = entry["Properties"]["KubernetesGroups"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|g| g.as_str())
        .collect();
    assert_eq!(groups, ["berth:status-member"]);
    let policies = serde_json::to_string(
        &serde_yaml_ng::to_value(
            &template["Resources"]["StatusFunction"]["Properties"]["Policies"],
        )
        .unwrap(),
    )
    .unwrap();
    assert!(!policies.contains("eks:"), "{policies}");
}

/// The parameters a template value names: `!Ref X`, and `${X}` inside `!Sub`.
fn parameters_named(value: &serde_yaml_ng::Value, into: &mut BTreeSet<String>) {
    use serde_yaml_ng::Value as Y;
    match value {
        Y::String(s) => {
            let mut rest = s.as_str();
            while let Some(start) = rest.find("${") {
                let after = &rest[start + 2..];
                let Some(end) = after.find('}') else { break };
                into.insert(after[..end].to_owned());
                rest = &after[end..];
            }
        }
        Y::Tagged(tagged) => {
            if tagged.tag == "Ref"
                && let Some(name) = tagged.value.as_str()
            {
                into.insert(name.to_owned());
            }
            parameters_named(&tagged.value, into);
        }
        Y::Sequence(items) => items.iter().for_each(|v| parameters_named(v, into)),
        Y::Mapping(map) => map.values().for_each(|v| parameters_named(v, into)),
        _ => {}
    }
}

fn secret_parameters(value: &serde_yaml_ng::Value) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    parameters_named(value, &mut named);
    named
        .into_iter()
        .filter(|n| n.ends_with("SecretName") || n.ends_with("SecretsName"))
        .collect()
}

/// Secrets reach the functions as names, never values: no dynamic reference is left, each
/// secret variable is an `_ARN`, and each role may read exactly the secrets its function is
/// given (by name with Secrets Manager's random suffix), and nothing else from Secrets Manager.
#[test]
fn each_function_reads_its_own_secrets_at_run_time_and_no_other() {
    let text = std::fs::read_to_string(project_root().join("infra/aws/template.yaml")).unwrap();
    assert!(
        !text.contains("resolve:secretsmanager"),
        "a secret copied in at deploy time"
    );
    let template = template();
    for function in ["ApiFunction", "WebhookFunction", "StatusFunction"] {
        let mut given = secret_parameters(&template["Globals"]["Function"]["Environment"]);
        given.extend(secret_parameters(
            &template["Resources"][function]["Properties"]["Environment"],
        ));
        for var in template_variables(&template, function) {
            assert!(
                !berth_usecases::settings::secrets::SECRET_VARS.contains(&var.as_str()),
                "{function} is given {var} as a value: give {var}_ARN"
            );
        }
        let mut granted = BTreeSet::new();
        let mut grants = 0;
        for statement in template["Resources"][function]["Properties"]["Policies"]
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(|p| p["Statement"].as_sequence().cloned().unwrap_or_default())
        {
            let actions =
                serde_json::to_string(&serde_yaml_ng::to_value(&statement["Action"]).unwrap())
                    .unwrap();
            if !actions.contains("secretsmanager:") {
                continue;
            }
            assert_eq!(
                statement["Action"].as_str(),
                Some("secretsmanager:GetSecretValue")
            );
            grants += 1;
            for resource in statement["Resource"].as_sequence().unwrap() {
                let arn =
                    serde_json::to_string(&serde_yaml_ng::to_value(resource).unwrap()).unwrap();
                assert!(
                    arn.contains(":secret:${") && arn.contains("}-??????"),
                    "{arn}"
                );
            }
            granted.extend(secret_parameters(&statement["Resource"]));
        }
        assert_eq!(grants, 1, "{function}: one statement reads its secrets");
        assert_eq!(
            granted, given,
            "{function}: the secrets it may read are those it is given"
        );
    }
    let api = secret_parameters(&template["Resources"]["ApiFunction"]["Properties"]);
    let webhook = secret_parameters(&template["Resources"]["WebhookFunction"]["Properties"]);
    assert!(api.contains("ApiTokensSecretName") && !webhook.contains("ApiTokensSecretName"));
    assert!(webhook.contains("WebhookSecretsName") && !api.contains("WebhookSecretsName"));
}

/// Every resource of the template with its logical id, the ones a `Fn::ForEach` makes included
/// (their ids still hold the identifier).
fn resources(template: &serde_yaml_ng::Value) -> Vec<(String, serde_yaml_ng::Value)> {
    let mut all = Vec::new();
    for (id, resource) in template["Resources"].as_mapping().unwrap() {
        let id = id.as_str().unwrap();
        if id.starts_with("Fn::ForEach::") {
            for (id, resource) in resource[2].as_mapping().unwrap() {
                all.push((id.as_str().unwrap().to_owned(), resource.clone()));
            }
        } else {
            all.push((id.to_owned(), resource.clone()));
        }
    }
    all
}

/// Alarms exist only when `AlarmTopicArn` is given, and each notifies it; the stopped schedule's
/// alarm breaches on missing data; every function logs to a group with the retention parameter.
#[test]
fn alarms_need_a_topic_and_logs_are_kept_for_the_retention() {
    let template = template();
    let condition = serde_json::to_value(&template["Conditions"]["HasAlarmTopic"]).unwrap();
    assert_eq!(
        condition.to_string(),
        r#"{"!Not":[{"!Equals":[{"!Ref":"AlarmTopicArn"},""]}]}"#,
        "HasAlarmTopic holds exactly when AlarmTopicArn is given"
    );
    let mut alarms = BTreeSet::new();
    for (id, resource) in resources(&template) {
        if resource["Type"].as_str() != Some("AWS::CloudWatch::Alarm") {
            continue;
        }
        assert_eq!(
            resource["Condition"].as_str(),
            Some("HasAlarmTopic"),
            "{id}"
        );
        for actions in ["AlarmActions", "OKActions"] {
            let named = serde_json::to_string(
                &serde_json::to_value(&resource["Properties"][actions]).unwrap(),
            )
            .unwrap();
            assert_eq!(named, r#"[{"!Ref":"AlarmTopicArn"}]"#, "{id} {actions}");
        }
        alarms.insert(id);
    }
    let expected = [
        "${Name}ErrorsAlarm",
        "${Name}ThrottlesAlarm",
        "GithubRateLimitAlarm",
        "SignatureFailuresAlarm",
        "StuckRequestAlarm",
        "SweepMissingAlarm",
        "TableThrottlesAlarm",
    ];
    assert_eq!(alarms, expected.iter().map(|s| s.to_string()).collect());
    let missing = &template["Resources"]["SweepMissingAlarm"]["Properties"];
    assert_eq!(missing["TreatMissingData"].as_str(), Some("breaching"));
    assert_eq!(missing["MetricName"].as_str(), Some("Sweeps"));

    let groups = &template["Resources"]["Fn::ForEach::LogGroups"];
    let names: Vec<&str> = groups[1]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(names, ["Api", "Webhook", "Status"]);
    let group = &groups[2]["${Name}LogGroup"]["Properties"];
    assert_eq!(
        serde_json::to_string(&serde_json::to_value(&group["RetentionInDays"]).unwrap()).unwrap(),
        r#"{"!Ref":"LogRetentionDays"}"#
    );
    for name in names {
        let logging = &template["Resources"][format!("{name}Function").as_str()]["Properties"]["LoggingConfig"];
        assert_eq!(
            serde_json::to_string(&serde_json::to_value(&logging["LogGroup"]).unwrap()).unwrap(),
            format!(r#"{{"!Ref":"{name}LogGroup"}}"#)
        );
    }
}

/// A browser opening the console sends no Authorization header, so its page and assets are
/// routed to the api function without the authorizer, for GET only; the data it shows comes
/// from /v1, which keeps it.
#[test]
fn the_console_loads_without_a_token_and_its_data_does_not() {
    let template = template();
    let routes: Vec<(String, serde_yaml_ng::Value)> = resources(&template)
        .into_iter()
        .filter(|(_, r)| r["Type"] == "AWS::ApiGatewayV2::Route")
        .collect();
    let route = |key: &str| {
        routes
            .iter()
            .find(|(_, r)| r["Properties"]["RouteKey"] == key)
            .unwrap_or_else(|| panic!("no route {key}"))
            .1["Properties"]
            .clone()
    };
    for key in ["GET /console", "GET /console/{proxy+}"] {
        let console = route(key);
        assert_eq!(console["AuthorizationType"], "NONE", "{key}");
        assert!(
            console["Target"]
                .as_str()
                .is_some_and(|t| t.contains("${ApiIntegration}")),
            "{key} reaches the api function: {console:?}"
        );
    }
    let console_methods: Vec<&str> = routes
        .iter()
        .filter_map(|(_, r)| r["Properties"]["RouteKey"].as_str())
        .filter(|k| k.contains("/console"))
        .collect();
    assert!(
        console_methods.iter().all(|k| k.starts_with("GET ")),
        "only GET reaches the console: {console_methods:?}"
    );
    let v1 = route("ANY /v1/{proxy+}");
    assert_ne!(v1["AuthorizationType"], "NONE", "/v1 keeps its authorizer");
}
