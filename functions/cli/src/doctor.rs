//! `berth doctor`: a deployment checked the way its operator would, one line per check (ok,
//! warning or failed, and what to do), exit 1 on any failure; `-o json` for scripts. The API and
//! the clock are checked from here; everything else by the API itself (`GET /v1/doctor`, admin
//! only). `flux check` and `brew doctor` are the models.

use std::time::{Duration, SystemTime};

use berth_contract::{CheckStatus, DoctorCheck, DoctorReport};
use comfy_table::{Cell, Color};

use crate::Api;
use crate::client::{ApiClient, ClientError, exit};
use crate::output;

/// A skew past this breaks webhook signatures' tolerance and JWTs' validity windows.
const MAX_SKEW: Duration = Duration::from_secs(60);

pub async fn run(api: &Api) -> Result<u8, ClientError> {
    let (url, token) = api.target()?;
    let client = ApiClient::new(&url, token.as_deref().unwrap_or_default())?;
    let mut checks = Vec::new();
    match client.health_and_clock().await {
        Ok((health, date)) => {
            checks.push(DoctorCheck::ok(
                "api",
                format!("{url} answers (version {})", health.version),
            ));
            checks.push(clock_check(date, SystemTime::now()));
            checks.extend(server_checks(&client, token.is_some()).await);
        }
        Err(e) => checks.push(DoctorCheck::failed(
            "api",
            e.to_string(),
            "check the URL (--url, BERTH_URL or the profile) and that the API is deployed",
        )),
    }
    let failed = checks.iter().any(|c| c.status == CheckStatus::Failed);
    output::print(api.output, &DoctorReport { checks }, |report, colour| {
        report_table(report, colour)
    });
    Ok(if failed { exit::FAILED } else { exit::OK })
}

/// The API's own checks, or why they could not be had.
async fn server_checks(client: &ApiClient, has_token: bool) -> Vec<DoctorCheck> {
    if !has_token {
        return vec![DoctorCheck::failed(
            "auth",
            "no token",
            "set BERTH_TOKEN, pass --token, or `berth login` with an admin token",
        )];
    }
    match client.doctor().await {
        Ok(report) => report.checks,
        Err(ClientError::Api { status: 401, error }) => vec![DoctorCheck::failed(
            "auth",
            format!("the API refuses the token: {}", error.message),
            "use a token the API accepts (BERTH_API_TOKENS, or a JWT from the issuer)",
        )],
        Err(ClientError::Api { status: 403, error }) => vec![DoctorCheck::failed(
            "auth",
            error.message,
            "run berth doctor with an admin token: the server's checks describe its credentials",
        )],
        Err(e) => vec![DoctorCheck::failed(
            "server",
            e.to_string(),
            "the API could not run its checks: see its logs",
        )],
    }
}

/// How far this machine's clock is from the API's.
fn clock_check(server: Option<SystemTime>, now: SystemTime) -> DoctorCheck {
    let Some(server) = server else {
        return DoctorCheck::warning(
            "clock",
            "the API's answer carries no Date header",
            "compare the clocks by hand",
        );
    };
    let skew = now
        .duration_since(server)
        .or_else(|_| server.duration_since(now))
        .unwrap_or_default();
    // The Date header has whole seconds: a second of difference is only rounding.
    if skew > MAX_SKEW {
        DoctorCheck::failed(
            "clock",
            format!("this machine's clock is {} s off the API's", skew.as_secs()),
            "sync the clocks (NTP): past 60 s, webhook signatures and JWTs are refused",
        )
    } else {
        DoctorCheck::ok(
            "clock",
            format!("within {} s of the API's clock", skew.as_secs()),
        )
    }
}

fn report_table(report: &DoctorReport, colour: bool) -> String {
    let rows = report
        .checks
        .iter()
        .map(|check| {
            let (word, tint) = match check.status {
                CheckStatus::Ok => ("ok", Color::Green),
                CheckStatus::Warning => ("warning", Color::Yellow),
                CheckStatus::Failed => ("failed", Color::Red),
            };
            let mut message = check.message.clone();
            if let Some(hint) = &check.hint {
                message.push_str(&format!(" (fix: {hint})"));
            }
            vec![
                Cell::new(word).fg(tint),
                Cell::new(&check.name),
                Cell::new(message),
            ]
        })
        .collect();
    output::styled_table(&[], rows, colour)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_past_a_minute_off_fails() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(clock_check(Some(now), now).status, CheckStatus::Ok);
        let late = clock_check(Some(now - Duration::from_secs(61)), now);
        assert_eq!(late.status, CheckStatus::Failed);
        assert!(late.message.contains("61 s"), "{}", late.message);
        let early = clock_check(Some(now + Duration::from_secs(90)), now);
        assert_eq!(early.status, CheckStatus::Failed);
        assert_eq!(clock_check(None, now).status, CheckStatus::Warning);
    }
}
