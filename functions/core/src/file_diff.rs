//! What a change does to files, as people review it: which files were added, modified or
//! deleted, how many lines each gained and lost, and the unified diff.

use similar::{ChangeTag, TextDiff};

use crate::plan::{Change, RepoFiles};

/// How a change treats one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileChangeKind {
    Added,
    Modified,
    Deleted,
}

impl FileChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileChangeKind::Added => "added",
            FileChangeKind::Modified => "modified",
            FileChangeKind::Deleted => "deleted",
        }
    }
}

/// One file a change touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    pub kind: FileChangeKind,
}

/// The files that differ between two readings of the same paths, by path.
pub fn file_changes(before: &RepoFiles, after: &RepoFiles) -> Vec<FileChange> {
    let mut paths: Vec<&String> = before.keys().chain(after.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| {
            let kind = match (before.get(path), after.get(path)) {
                (None, Some(_)) => FileChangeKind::Added,
                (Some(_), None) => FileChangeKind::Deleted,
                (Some(a), Some(b)) if a != b => FileChangeKind::Modified,
                _ => return None,
            };
            Some(FileChange {
                path: path.clone(),
                kind,
            })
        })
        .collect()
}

/// One file's diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiff {
    pub path: String,
    pub kind: FileChangeKind,
    pub lines_added: usize,
    pub lines_removed: usize,
    /// The unified diff, `a/<path>` against `b/<path>`, three lines of context.
    pub unified: String,
}

/// The diff of every file that differs between `before` and `after`.
pub fn diff_files(before: &RepoFiles, after: &RepoFiles) -> Vec<FileDiff> {
    file_changes(before, after)
        .into_iter()
        .map(|FileChange { path, kind }| {
            let old = text(before.get(&path));
            let new = text(after.get(&path));
            let diff = TextDiff::from_lines(old.as_ref(), new.as_ref());
            let count = |tag| diff.iter_all_changes().filter(|c| c.tag() == tag).count();
            let unified = diff
                .unified_diff()
                .context_radius(3)
                .header(&format!("a/{path}"), &format!("b/{path}"))
                .to_string();
            FileDiff {
                lines_added: count(ChangeTag::Insert),
                lines_removed: count(ChangeTag::Delete),
                unified,
                path,
                kind,
            }
        })
        .collect()
}

/// The diff `change` makes to `files`.
pub fn diff_change(files: &RepoFiles, change: &Change) -> Vec<FileDiff> {
    let touched = |path: &String| change.writes.contains_key(path) || change.deletes.contains(path);
    let before: RepoFiles = files
        .iter()
        .filter(|(path, _)| touched(path))
        .map(|(p, b)| (p.clone(), b.clone()))
        .collect();
    let mut after = before.clone();
    change.apply_to(&mut after);
    diff_files(&before, &after)
}

fn text(bytes: Option<&Vec<u8>>) -> std::borrow::Cow<'_, str> {
    bytes.map_or(std::borrow::Cow::Borrowed(""), |b| {
        String::from_utf8_lossy(b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> RepoFiles {
        entries
            .iter()
            .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn a_diff_names_each_file_with_its_kind_and_line_counts() {
        let before = files(&[
            ("a.yaml", "x: 1\ny: 2\n"),
            ("gone.yaml", "z: 1\n"),
            ("same", "s\n"),
        ]);
        let after = files(&[
            ("a.yaml", "x: 1\ny: 3\n"),
            ("new.yaml", "n: 1\nm: 2\n"),
            ("same", "s\n"),
        ]);
        let diffs = diff_files(&before, &after);
        let summary: Vec<_> = diffs
            .iter()
            .map(|d| (d.path.as_str(), d.kind, d.lines_added, d.lines_removed))
            .collect();
        assert_eq!(
            summary,
            [
                ("a.yaml", FileChangeKind::Modified, 1, 1),
                ("gone.yaml", FileChangeKind::Deleted, 0, 1),
                ("new.yaml", FileChangeKind::Added, 2, 0),
            ]
        );
        assert!(
            diffs[0].unified.contains("-y: 2\n+y: 3\n"),
            "{}",
            diffs[0].unified
        );
        assert!(diffs[0].unified.starts_with("--- a/a.yaml\n+++ b/a.yaml\n"));
    }
}
