//! Edits to `tenants/catalog.yaml` that keep the file a person wrote: its comments, order and
//! layout. Only the one line that changes is touched, and the result is parsed again and
//! compared with the catalog as it should be; an edit that cannot be made that way is refused,
//! never written by re-serializing the whole file.

use crate::catalog::Catalog;
use crate::error::CatalogError;
use crate::names::ModuleName;

/// `catalog` with `module`'s default version set to `version`: `chart.default` for an
/// upstream chart, `version` for an in-repo one.
pub fn set_module_default(
    catalog: &[u8],
    module: &ModuleName,
    version: &str,
) -> Result<Vec<u8>, CatalogError> {
    let text = std::str::from_utf8(catalog).map_err(|e| CatalogError::Syntax(e.to_string()))?;
    let before = Catalog::from_yaml(catalog)?;
    let upstream = before
        .module(module)
        .ok_or_else(|| CatalogError::Rule(format!("module {module}: not in the catalog")))?
        .chart
        .is_some();
    let cannot = |why: &str| {
        CatalogError::Rule(format!(
            "module {module}: cannot set its default version in place ({why}); edit tenants/catalog.yaml by hand"
        ))
    };
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let item =
        find_module_item(&lines, module.as_str()).ok_or_else(|| cannot("entry not found"))?;
    let quoted = serde_json::to_string(version).map_err(|e| cannot(&e.to_string()))?;
    if upstream {
        let chart = find_key(&lines, item.start, item.end, item.key_indent, "chart")
            .ok_or_else(|| cannot("no chart block"))?;
        if !value_of(&lines[chart]).is_empty() {
            return Err(cannot("chart is written in flow style"));
        }
        let end = block_end(&lines, chart + 1, item.key_indent);
        let Some(first) = (chart + 1..end).find(|&i| is_content(&lines[i])) else {
            return Err(cannot("an empty chart block"));
        };
        let chart_indent = indent(&lines[first]);
        let default = find_key(&lines, chart + 1, end, chart_indent, "default")
            .ok_or_else(|| cannot("no chart.default line"))?;
        lines[default] = format!("{}default: {quoted}", " ".repeat(chart_indent));
    } else {
        match find_key(&lines, item.start, item.end, item.key_indent, "version") {
            Some(at) => lines[at] = format!("{}version: {quoted}", " ".repeat(item.key_indent)),
            None => lines.insert(
                item.name_line + 1,
                format!("{}version: {quoted}", " ".repeat(item.key_indent)),
            ),
        }
    }
    let mut edited = lines.join("\n");
    if text.ends_with('\n') {
        edited.push('\n');
    }
    let after = Catalog::from_yaml(edited.as_bytes())?;
    if after != expected(&before, module, version) {
        return Err(cannot("the edited file does not read as intended"));
    }
    Ok(edited.into_bytes())
}

fn expected(before: &Catalog, module: &ModuleName, version: &str) -> Catalog {
    let mut expected = before.clone();
    if let Some(m) = expected.modules.iter_mut().find(|m| &m.name == module) {
        match &mut m.chart {
            Some(chart) => chart.default = version.to_owned(),
            None => m.version = Some(version.to_owned()),
        }
    }
    expected
}

struct ModuleItem {
    start: usize,
    end: usize,
    key_indent: usize,
    /// The line naming the module (the dash line, or a `name:` line below it).
    name_line: usize,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn is_content(line: &str) -> bool {
    let t = line.trim_start();
    !t.is_empty() && !t.starts_with('#')
}

/// The value after `key:` on a line.
fn value_of(line: &str) -> &str {
    line.split_once(':').map_or("", |(_, v)| v.trim())
}

/// The first line after `from` whose content is indented `parent` or less: the end of a block.
fn block_end(lines: &[String], from: usize, parent: usize) -> usize {
    (from..lines.len())
        .find(|&i| is_content(&lines[i]) && indent(&lines[i]) <= parent)
        .unwrap_or(lines.len())
}

fn find_module_item(lines: &[String], module: &str) -> Option<ModuleItem> {
    let modules = lines.iter().position(|l| l.trim_end() == "modules:")?;
    let end = (modules + 1..lines.len())
        .find(|&i| is_content(&lines[i]) && indent(&lines[i]) == 0 && !lines[i].starts_with('-'))
        .unwrap_or(lines.len());
    let dashes: Vec<usize> = (modules + 1..end)
        .filter(|&i| lines[i].trim_start().starts_with("- "))
        .collect();
    let item_indent = dashes.first().map(|&i| indent(&lines[i]))?;
    let items: Vec<usize> = dashes
        .into_iter()
        .filter(|&i| indent(&lines[i]) == item_indent)
        .collect();
    for (n, &start) in items.iter().enumerate() {
        let item_end = items.get(n + 1).copied().unwrap_or(end);
        let key_indent = item_indent + 2;
        let names = |line: &str| {
            let t = line.trim_start().trim_start_matches("- ").trim_start();
            t.strip_prefix("name:")
                .map(|v| v.trim().trim_matches(['"', '\'']) == module)
                .unwrap_or(false)
        };
        let name_line = (start..item_end)
            .find(|&i| (i == start || indent(&lines[i]) == key_indent) && names(&lines[i]));
        if let Some(name_line) = name_line {
            return Some(ModuleItem {
                start,
                end: item_end,
                key_indent,
                name_line,
            });
        }
    }
    None
}

/// The line of `start..end` holding `key:` at `key_indent`.
fn find_key(
    lines: &[String],
    start: usize,
    end: usize,
    key_indent: usize,
    key: &str,
) -> Option<usize> {
    let prefix = format!("{key}:");
    (start..end)
        .find(|&i| indent(&lines[i]) == key_indent && lines[i].trim_start().starts_with(&prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROJECT: &str = include_str!("../../../tenants/catalog.yaml");

    fn module(name: &str) -> ModuleName {
        ModuleName::parse("module", name).unwrap()
    }

    #[test]
    fn an_in_repo_default_is_written_beside_the_name_and_nothing_else_moves() {
        let edited = set_module_default(PROJECT.as_bytes(), &module("postgres"), "16.6").unwrap();
        let edited = String::from_utf8(edited).unwrap();
        let added: Vec<&str> = edited.lines().filter(|l| !PROJECT.contains(l)).collect();
        assert_eq!(added, ["    version: \"16.6\""]);
        assert!(edited.starts_with("# Berth's catalog"), "comments kept");
        let again = set_module_default(edited.as_bytes(), &module("postgres"), "16.7").unwrap();
        let again = String::from_utf8(again).unwrap();
        assert_eq!(
            again.lines().count(),
            edited.lines().count(),
            "replaced in place"
        );
        let catalog = Catalog::from_yaml(again.as_bytes()).unwrap();
        assert_eq!(
            catalog
                .module(&module("postgres"))
                .unwrap()
                .default_version(),
            Some("16.7")
        );
    }

    #[test]
    fn an_upstream_default_moves_inside_its_chart_block() {
        let yaml = PROJECT.replace(
            "  - name: vault\n",
            "  - name: cnpg\n    chart:\n      repo: https://charts.example.com\n      name: cluster\n      versions: \">=0.1 <1\"\n      default: 0.2.0  # the fleet's\n  - name: vault\n",
        );
        let edited = set_module_default(yaml.as_bytes(), &module("cnpg"), "0.3.1").unwrap();
        let catalog = Catalog::from_yaml(&edited).unwrap();
        assert_eq!(
            catalog.module(&module("cnpg")).unwrap().default_version(),
            Some("0.3.1")
        );
        let err = set_module_default(yaml.as_bytes(), &module("cnpg"), "2.0.0").unwrap_err();
        assert!(err.to_string().contains("cnpg"), "outside the range: {err}");
        let flow = yaml.replace(
            "    chart:\n      repo: https://charts.example.com\n      name: cluster\n      versions: \">=0.1 <1\"\n      default: 0.2.0  # the fleet's\n",
            "    chart: {repo: \"https://charts.example.com\", name: cluster, versions: \">=0.1 <1\", default: 0.2.0}\n",
        );
        let err = set_module_default(flow.as_bytes(), &module("cnpg"), "0.3.1").unwrap_err();
        assert!(err.to_string().contains("flow style"), "{err}");
    }
}
