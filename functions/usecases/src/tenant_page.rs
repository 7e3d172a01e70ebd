//! A page of the tenant list: the tenants the caller may see, filtered by search text, health,
//! tier and state, in name order after a cursor, with the total and the counts by health. What
//! a console paging 20,000 tenants, and a script, ask for instead of the whole list.

use std::collections::BTreeMap;

use crate::read::ListedTenant;

/// What a caller asks of the list; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantQuery {
    /// Case-insensitive text in the name, the display name or the owner.
    pub text: Option<String>,
    pub health: Option<String>,
    pub tier: Option<String>,
    pub state: Option<String>,
    /// Only tenants named after this one (the last name of the previous page).
    pub after: Option<String>,
    /// At most this many; all when `None`.
    pub limit: Option<usize>,
}

/// One page, and what the whole filtered list holds.
#[derive(Debug, Clone, Default)]
pub struct TenantPage {
    pub tenants: Vec<ListedTenant>,
    /// Tenants matching every filter.
    pub total: usize,
    /// Tenants matching every filter but health, by health: what each health filter would show.
    pub counts: BTreeMap<String, usize>,
    /// The cursor of the next page, when there is one.
    pub next_after: Option<String>,
}

/// Filters, counts and pages `listed`.
pub fn tenant_page(mut listed: Vec<ListedTenant>, query: &TenantQuery) -> TenantPage {
    listed.sort_by(|a, b| a.entry.name.cmp(&b.entry.name));
    let text = query.text.as_deref().map(str::to_lowercase);
    let mut counts = BTreeMap::new();
    let mut matching = Vec::new();
    for tenant in listed {
        let e = &tenant.entry;
        let found = text.as_deref().is_none_or(|text| {
            [Some(&e.name), e.display_name.as_ref(), e.owner.as_ref()]
                .into_iter()
                .flatten()
                .any(|field| field.to_lowercase().contains(text))
        });
        let kept = found
            && query.tier.as_ref().is_none_or(|tier| &e.tier == tier)
            && query.state.as_ref().is_none_or(|state| &e.state == state);
        if !kept {
            continue;
        }
        *counts.entry(tenant.health.clone()).or_default() += 1;
        if query.health.as_ref().is_none_or(|h| &tenant.health == h) {
            matching.push(tenant);
        }
    }
    let total = matching.len();
    let mut page: Vec<ListedTenant> = matching
        .into_iter()
        .filter(|t| {
            query
                .after
                .as_ref()
                .is_none_or(|after| &t.entry.name > after)
        })
        .collect();
    let mut next_after = None;
    if let Some(limit) = query.limit
        && page.len() > limit
    {
        page.truncate(limit);
        next_after = page.last().map(|t| t.entry.name.clone());
    }
    TenantPage {
        tenants: page,
        total,
        counts,
        next_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_store::TenantEntry;

    fn tenant(name: &str, tier: &str, health: &str, owner: Option<&str>) -> ListedTenant {
        let entry = TenantEntry {
            name: name.into(),
            tier: tier.into(),
            state: "active".into(),
            display_name: None,
            customer_id: None,
            last_request: "01J0000000000000000000000".into(),
            updated_at: "2026-12-01T00:00:00Z".into(),
            owner: owner.map(str::to_owned),
            git_digest: None,
            last_change: None,
            problems: Vec::new(),
        };
        ListedTenant {
            entry,
            health: health.into(),
        }
    }

    fn names(page: &TenantPage) -> Vec<&str> {
        page.tenants.iter().map(|t| t.entry.name.as_str()).collect()
    }

    fn fleet() -> Vec<ListedTenant> {
        vec![
            tenant(
                "umbrella",
                "premium",
                "degraded",
                Some("ops@umbrella.example"),
            ),
            tenant("acme", "standard", "healthy", None),
            tenant("globex", "premium", "healthy", Some("ACME-partners")),
            tenant("initech", "standard", "degraded", None),
            tenant("hooli", "premium", "progressing", None),
        ]
    }

    #[test]
    fn pages_in_name_order_with_a_cursor() {
        let query = TenantQuery {
            limit: Some(2),
            ..TenantQuery::default()
        };
        let first = tenant_page(fleet(), &query);
        assert_eq!(names(&first), ["acme", "globex"]);
        assert_eq!(
            (first.total, first.next_after.as_deref()),
            (5, Some("globex"))
        );
        let second = tenant_page(
            fleet(),
            &TenantQuery {
                after: first.next_after.clone(),
                ..query.clone()
            },
        );
        assert_eq!(names(&second), ["hooli", "initech"]);
        let last = tenant_page(
            fleet(),
            &TenantQuery {
                after: second.next_after.clone(),
                ..query
            },
        );
        assert_eq!(names(&last), ["umbrella"]);
        assert_eq!(last.next_after, None);
    }

    #[test]
    fn filters_and_counts_by_health_over_the_other_filters() {
        let premium = TenantQuery {
            tier: Some("premium".into()),
            health: Some("degraded".into()),
            ..TenantQuery::default()
        };
        let page = tenant_page(fleet(), &premium);
        assert_eq!(names(&page), ["umbrella"]);
        assert_eq!(page.total, 1);
        let counts: Vec<(&str, usize)> =
            page.counts.iter().map(|(h, n)| (h.as_str(), *n)).collect();
        assert_eq!(
            counts,
            [("degraded", 1), ("healthy", 1), ("progressing", 1)]
        );
        // Text matches the name, the display name or the owner, in any case.
        let acme = TenantQuery {
            text: Some("AcMe".into()),
            ..TenantQuery::default()
        };
        assert_eq!(names(&tenant_page(fleet(), &acme)), ["acme", "globex"]);
    }
}
