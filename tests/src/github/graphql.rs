//! GitHub's GraphQL API over a real bare repository: every document is validated against
//! GitHub's published schema, then executed field by field against the repository's objects,
//! so any query or mutation Berth sends is answered as GitHub answers it, not by shape.

use std::path::Path as FsPath;
use std::sync::OnceLock;

use apollo_compiler::executable::{Field, Selection, SelectionSet};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use git2::build::TreeUpdateBuilder;
use git2::{FileMode, ObjectType, Oid, Repository, Signature};
use serde_json::{Map, Value, json};

/// GitHub cuts `Blob.text` here and says so in `isTruncated`.
pub const BLOB_TEXT_LIMIT: usize = 512_000;

/// GitHub's published schema (`tests/fixtures/github`), loaded as GitHub serves it: it defines
/// two fields twice, which a strict build refuses, so the build's errors are set aside.
pub fn github_schema() -> &'static Valid<Schema> {
    static SCHEMA: OnceLock<Valid<Schema>> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = crate::project_root().join("tests/fixtures/github/schema.graphql");
        let sdl = std::fs::read_to_string(&path).expect("read the vendored GitHub schema");
        let schema = Schema::parse(sdl, &path).unwrap_or_else(|e| e.partial);
        Valid::assume_valid(schema)
    })
}

/// One entry of GraphQL's `errors`, as GitHub words it.
#[derive(Debug, Clone)]
pub struct GqlError {
    pub kind: Option<&'static str>,
    pub message: String,
}

impl GqlError {
    fn typed(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind: Some(kind),
            message: message.into(),
        }
    }
}

/// What the executor is told about the repository and what it should do to it.
pub struct Context<'a> {
    pub repo: &'a Repository,
    pub name_with_owner: &'a str,
    pub variables: &'a Map<String, Value>,
    pub blob_text_limit: usize,
    /// Commit this before the next `createCommitOnBranch` applies: another writer's change
    /// landing between Berth's read and its write.
    pub race: Option<(String, Vec<u8>)>,
    pub pulls: &'a std::sync::Mutex<Vec<super::pulls::Pull>>,
    /// Pull requests are mergeable at once: auto-merge is refused.
    pub clean_status: bool,
    pub histories: &'a Histories,
    /// The commit statuses set so far: `(sha, context, state)`.
    pub statuses: Vec<(String, String, String)>,
    /// Whether the credential may write, and which branches are protected.
    pub(crate) access: super::access::AccessRules,
}

/// Each path history listed, by its start commit and path, whole.
pub type Histories =
    std::sync::Mutex<std::collections::HashMap<(Oid, String), std::sync::Arc<Vec<Oid>>>>;

/// Executes `document`: `Ok((data, errors))`, or the validation errors of a document GitHub
/// would refuse before running it.
pub fn execute(
    document: &str,
    operation_name: Option<&str>,
    ctx: &mut Context<'_>,
) -> Result<(Value, Vec<GqlError>), Vec<String>> {
    let schema = github_schema();
    let parsed = ExecutableDocument::parse_and_validate(schema, document, "request.graphql")
        .map_err(|e| e.errors.iter().map(|d| d.to_string()).collect::<Vec<_>>())?;
    let operation = parsed
        .operations
        .get(operation_name)
        .map_err(|e| vec![e.message().to_string()])?;
    let variables = serde_json_bytes::Value::from(Value::Object(ctx.variables.clone()));
    let variables = variables.as_object().cloned().unwrap_or_default();
    apollo_compiler::request::coerce_variable_values(schema, operation, &variables)
        .map_err(|e| vec![e.message().to_string()])?;
    let root = if operation.is_mutation() {
        Obj::Mutation
    } else {
        Obj::Query
    };
    let mut errors = Vec::new();
    let mut data = Map::new();
    // A failed top-level field is `null` beside its error, as GitHub answers.
    for selection in &operation.selection_set.selections {
        let Selection::Field(field) = selection else {
            continue;
        };
        let key = field.response_key().to_string();
        match resolve_field(ctx, &root, field) {
            Ok(value) => {
                data.insert(key, value);
            }
            Err(error) => {
                data.insert(key, Value::Null);
                errors.push(error);
            }
        }
    }
    Ok((Value::Object(data), errors))
}

/// A GraphQL object the executor can select fields of.
#[derive(Debug, Clone)]
enum Obj {
    Query,
    Mutation,
    Repository,
    Ref {
        name: String,
        oid: Oid,
    },
    Commit(Oid),
    Tree {
        oid: Oid,
        path: String,
    },
    Blob(Oid),
    Entry {
        path: String,
        oid: Oid,
        kind: ObjectType,
        mode: i32,
    },
    History {
        from: Oid,
        first: usize,
        skip: usize,
        /// Only commits that changed this path, as `git log -- <path>` lists them.
        path: Option<String>,
    },
    Parents {
        oid: Oid,
        first: usize,
    },
    Actor {
        name: String,
        email: String,
    },
    PageInfo {
        has_next: bool,
        end: Option<String>,
    },
    CommitPayload(Oid),
    Pull(super::pulls::Pull),
    PullConnection(Vec<super::pulls::Pull>),
    PullFiles(Vec<String>),
    PullFile(String),
    PullCommits(Oid),
    PullCommit(Oid),
    Status(Oid),
    StatusContext(String),
    AutoMergePayload,
}

impl Obj {
    fn typename(&self) -> &'static str {
        match self {
            Obj::Query => "Query",
            Obj::Mutation => "Mutation",
            Obj::Repository => "Repository",
            Obj::Ref { .. } => "Ref",
            Obj::Commit(_) => "Commit",
            Obj::Tree { .. } => "Tree",
            Obj::Blob(_) => "Blob",
            Obj::Entry { .. } => "TreeEntry",
            Obj::History { .. } => "CommitHistoryConnection",
            Obj::Parents { .. } => "CommitConnection",
            Obj::Actor { .. } => "GitActor",
            Obj::PageInfo { .. } => "PageInfo",
            Obj::CommitPayload(_) => "CreateCommitOnBranchPayload",
            Obj::Pull(_) => "PullRequest",
            Obj::PullConnection(_) => "PullRequestConnection",
            Obj::PullFiles(_) => "PullRequestChangedFileConnection",
            Obj::PullFile(_) => "PullRequestChangedFile",
            Obj::PullCommits(_) => "PullRequestCommitConnection",
            Obj::PullCommit(_) => "PullRequestCommit",
            Obj::Status(_) => "Status",
            Obj::StatusContext(_) => "StatusContext",
            Obj::AutoMergePayload => "EnablePullRequestAutoMergePayload",
        }
    }

    /// Whether a fragment on `condition` applies: the type itself, or an interface it has.
    fn is_a(&self, condition: &str) -> bool {
        condition == self.typename()
            || (matches!(condition, "GitObject" | "Node")
                && matches!(self, Obj::Commit(_) | Obj::Tree { .. } | Obj::Blob(_)))
    }
}

/// What a field resolves to before its own selection is applied.
enum Resolved {
    Scalar(Value),
    One(Obj),
    Many(Vec<Obj>),
}

fn select(ctx: &mut Context<'_>, obj: &Obj, set: &SelectionSet) -> Result<Value, GqlError> {
    let mut out = Map::new();
    collect(ctx, obj, set, &mut out)?;
    Ok(Value::Object(out))
}

fn collect(
    ctx: &mut Context<'_>,
    obj: &Obj,
    set: &SelectionSet,
    out: &mut Map<String, Value>,
) -> Result<(), GqlError> {
    for selection in &set.selections {
        match selection {
            Selection::Field(field) => {
                let value = resolve_field(ctx, obj, field)?;
                out.insert(field.response_key().to_string(), value);
            }
            Selection::InlineFragment(fragment) => {
                let applies = fragment
                    .type_condition
                    .as_ref()
                    .is_none_or(|condition| obj.is_a(condition.as_str()));
                if applies {
                    collect(ctx, obj, &fragment.selection_set, out)?;
                }
            }
            Selection::FragmentSpread(_) => {
                return Err(GqlError::typed(
                    "UNPROCESSABLE",
                    "named fragments are not served by this test server",
                ));
            }
        }
    }
    Ok(())
}

fn resolve_field(ctx: &mut Context<'_>, obj: &Obj, field: &Field) -> Result<Value, GqlError> {
    let args = arguments(ctx, field);
    if field.name == "__typename" {
        return Ok(obj.typename().into());
    }
    match resolve(ctx, obj, field.name.as_str(), &args)? {
        Resolved::Scalar(value) => Ok(value),
        Resolved::One(child) => select(ctx, &child, &field.selection_set),
        Resolved::Many(children) => children
            .iter()
            .map(|child| select(ctx, child, &field.selection_set))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
    }
}

fn arguments(ctx: &Context<'_>, field: &Field) -> Map<String, Value> {
    field
        .arguments
        .iter()
        .map(|arg| (arg.name.to_string(), literal(ctx, &arg.value)))
        .collect()
}

fn literal(ctx: &Context<'_>, value: &apollo_compiler::ast::Value) -> Value {
    use apollo_compiler::ast::Value as V;
    match value {
        V::Null => Value::Null,
        V::Variable(name) => ctx
            .variables
            .get(name.as_str())
            .cloned()
            .unwrap_or(Value::Null),
        V::Enum(name) => name.as_str().into(),
        V::String(s) => s.as_str().into(),
        V::Boolean(b) => (*b).into(),
        V::Int(i) => i.try_to_i32().map_or(Value::Null, Value::from),
        V::Float(f) => f.try_to_f64().map_or(Value::Null, Value::from),
        V::List(items) => items.iter().map(|v| literal(ctx, v)).collect(),
        V::Object(fields) => fields
            .iter()
            .map(|(k, v)| (k.to_string(), literal(ctx, v)))
            .collect::<Map<_, _>>()
            .into(),
    }
}

fn resolve(
    ctx: &mut Context<'_>,
    obj: &Obj,
    name: &str,
    args: &Map<String, Value>,
) -> Result<Resolved, GqlError> {
    let repo = ctx.repo;
    let scalar = |v: Value| Ok(Resolved::Scalar(v));
    let null = || Ok(Resolved::Scalar(Value::Null));
    match (obj, name) {
        (Obj::Query, "repository") => {
            let asked = format!("{}/{}", text_arg(args, "owner"), text_arg(args, "name"));
            if asked != ctx.name_with_owner {
                return Err(GqlError::typed(
                    "NOT_FOUND",
                    format!("Could not resolve to a Repository with the name '{asked}'."),
                ));
            }
            Ok(Resolved::One(Obj::Repository))
        }
        (Obj::Mutation, "createCommitOnBranch") => {
            let oid = create_commit_on_branch(ctx, &args["input"])?;
            Ok(Resolved::One(Obj::CommitPayload(oid)))
        }
        (Obj::Mutation, "enablePullRequestAutoMerge") => {
            let input = &args["input"];
            let id = input["pullRequestId"].as_str().unwrap_or_default();
            let mut pulls = ctx.pulls.lock().expect("lock");
            let Some(pull) = pulls.iter_mut().find(|p| p.node_id() == id && p.open) else {
                return Err(GqlError::typed(
                    "NOT_FOUND",
                    format!("Could not resolve to a node with the global id of '{id}'"),
                ));
            };
            if ctx.clean_status {
                return Err(GqlError::typed(
                    "UNPROCESSABLE",
                    "Pull request Pull request is in clean status",
                ));
            }
            pull.auto_merge = Some(input["mergeMethod"].as_str().unwrap_or("MERGE").to_owned());
            Ok(Resolved::One(Obj::AutoMergePayload))
        }
        (Obj::AutoMergePayload, "clientMutationId") => null(),
        (Obj::Repository, "pullRequest") => {
            let number = args.get("number").and_then(Value::as_u64).unwrap_or(0);
            let pulls = ctx.pulls.lock().expect("lock");
            match pulls.iter().find(|p| p.number == number) {
                Some(pull) => Ok(Resolved::One(Obj::Pull(pull.clone()))),
                None => Err(GqlError::typed(
                    "NOT_FOUND",
                    format!("Could not resolve to a PullRequest with the number of {number}."),
                )),
            }
        }
        (Obj::Repository, "pullRequests") => {
            let open = args
                .get("states")
                .is_some_and(|s| s.to_string().contains("OPEN"));
            let first = args.get("first").and_then(Value::as_u64).unwrap_or(0) as usize;
            let pulls = ctx.pulls.lock().expect("lock");
            // Newest first, as ordering by UPDATED_AT descending lists them here.
            let listed = pulls
                .iter()
                .rev()
                .filter(|p| !open || p.open)
                .take(first)
                .cloned()
                .collect();
            Ok(Resolved::One(Obj::PullConnection(listed)))
        }
        (Obj::PullConnection(pulls), "nodes") => Ok(Resolved::Many(
            pulls.iter().cloned().map(Obj::Pull).collect(),
        )),
        (Obj::Pull(pull), "headRefName") => scalar(pull.head_ref.clone().into()),
        (Obj::Pull(pull), "headRefOid") => scalar(pull_head(repo, pull)?.to_string().into()),
        (Obj::Pull(pull), "files") => {
            let head = pull_head(repo, pull)?;
            let base = repo
                .refname_to_id(&format!("refs/heads/{}", pull.base_ref))
                .map_err(internal)?;
            let first = args.get("first").and_then(Value::as_u64).unwrap_or(0) as usize;
            let mut paths = super::rest::changed_paths(repo, base, head);
            paths.truncate(first);
            Ok(Resolved::One(Obj::PullFiles(paths)))
        }
        (Obj::PullFiles(paths), "nodes") => Ok(Resolved::Many(
            paths.iter().cloned().map(Obj::PullFile).collect(),
        )),
        (Obj::PullFile(path), "path") => scalar(path.clone().into()),
        (Obj::Pull(pull), "commits") => Ok(Resolved::One(Obj::PullCommits(pull_head(repo, pull)?))),
        (Obj::PullCommits(oid), "nodes") => Ok(Resolved::Many(vec![Obj::PullCommit(*oid)])),
        (Obj::PullCommit(oid), "commit") => Ok(Resolved::One(Obj::Commit(*oid))),
        (Obj::Commit(oid), "status") => {
            let sha = oid.to_string();
            match ctx.statuses.iter().any(|(s, _, _)| *s == sha) {
                true => Ok(Resolved::One(Obj::Status(*oid))),
                false => null(),
            }
        }
        (Obj::Status(oid), "context") => {
            let (sha, name) = (oid.to_string(), text_arg(args, "name"));
            let newest = ctx
                .statuses
                .iter()
                .rev()
                .find(|(s, c, _)| *s == sha && *c == name);
            match newest {
                Some((_, _, state)) => Ok(Resolved::One(Obj::StatusContext(state.clone()))),
                None => null(),
            }
        }
        (Obj::StatusContext(state), "state") => scalar(state.to_ascii_uppercase().into()),
        (Obj::Pull(pull), "number") => scalar(pull.number.into()),
        (Obj::Pull(pull), "url") => scalar(pull.html_url().into()),
        (Obj::Pull(pull), "merged") => scalar(pull.merge_commit_sha.is_some().into()),
        (Obj::Pull(pull), "state") => scalar(
            match (pull.open, &pull.merge_commit_sha) {
                (true, _) => "OPEN",
                (false, Some(_)) => "MERGED",
                (false, None) => "CLOSED",
            }
            .into(),
        ),
        (Obj::Pull(pull), "mergeCommit") => match &pull.merge_commit_sha {
            Some(sha) => Ok(Resolved::One(Obj::Commit(
                Oid::from_str(sha).map_err(internal)?,
            ))),
            None => null(),
        },
        (Obj::Repository, "id") => scalar("R_kgDOBerth".into()),
        (Obj::Repository, "nameWithOwner") => scalar(ctx.name_with_owner.into()),
        (Obj::Repository, "ref") => {
            let name = text_arg(args, "qualifiedName");
            let full = if name.starts_with("refs/") {
                name.clone()
            } else {
                format!("refs/heads/{name}")
            };
            match repo.refname_to_id(&full) {
                Ok(oid) => Ok(Resolved::One(Obj::Ref { name: full, oid })),
                Err(_) => null(),
            }
        }
        (Obj::Repository, "object") => {
            let Ok(oid) = Oid::from_str(&text_arg(args, "oid")) else {
                return null();
            };
            match repo.find_object(oid, None).ok().and_then(|o| o.kind()) {
                Some(ObjectType::Commit) => Ok(Resolved::One(Obj::Commit(oid))),
                Some(ObjectType::Tree) => Ok(Resolved::One(Obj::Tree {
                    oid,
                    path: String::new(),
                })),
                Some(ObjectType::Blob) => Ok(Resolved::One(Obj::Blob(oid))),
                _ => null(),
            }
        }
        (Obj::Ref { name, .. }, "name") => scalar(name.trim_start_matches("refs/heads/").into()),
        (Obj::Ref { name, .. }, "id") => scalar(format!("REF_{name}").into()),
        (Obj::Ref { oid, .. }, "target") => Ok(Resolved::One(Obj::Commit(*oid))),
        (Obj::Commit(oid) | Obj::CommitPayload(oid), "oid") => scalar(oid.to_string().into()),
        (Obj::CommitPayload(oid), "commit") => Ok(Resolved::One(Obj::Commit(*oid))),
        (Obj::Commit(oid), "message") => {
            let commit = repo.find_commit(*oid).map_err(internal)?;
            scalar(String::from_utf8_lossy(commit.message_bytes()).into())
        }
        (Obj::Commit(oid), "committedDate") => {
            let commit = repo.find_commit(*oid).map_err(internal)?;
            let date = chrono::DateTime::from_timestamp(commit.committer().when().seconds(), 0)
                .unwrap_or_default();
            scalar(
                date.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    .into(),
            )
        }
        (Obj::Commit(oid), "file") => {
            let path = text_arg(args, "path");
            let tree = repo
                .find_commit(*oid)
                .and_then(|c| c.tree())
                .map_err(internal)?;
            match tree.get_path(FsPath::new(&path)) {
                Ok(entry) => Ok(Resolved::One(Obj::Entry {
                    path,
                    oid: entry.id(),
                    kind: entry.kind().unwrap_or(ObjectType::Any),
                    mode: entry.filemode(),
                })),
                Err(_) => null(),
            }
        }
        (Obj::Commit(oid), "history") => {
            let first = args.get("first").and_then(Value::as_u64).unwrap_or(0) as usize;
            if !(1..=100).contains(&first) {
                return Err(GqlError::typed(
                    "UNPROCESSABLE",
                    "You must provide a `first` or `last` value to properly paginate the `history` connection.",
                ));
            }
            let skip = match args.get("after").and_then(Value::as_str) {
                Some(cursor) => cursor_index(cursor, *oid)? + 1,
                None => 0,
            };
            Ok(Resolved::One(Obj::History {
                from: *oid,
                first,
                skip,
                path: args.get("path").and_then(Value::as_str).map(str::to_owned),
            }))
        }
        (Obj::Commit(oid), "parents") => {
            let first = args.get("first").and_then(Value::as_u64).unwrap_or(0) as usize;
            if !(1..=100).contains(&first) {
                return Err(GqlError::typed(
                    "UNPROCESSABLE",
                    "You must provide a `first` or `last` value to properly paginate the `parents` connection.",
                ));
            }
            Ok(Resolved::One(Obj::Parents { oid: *oid, first }))
        }
        (Obj::Parents { oid, first }, "nodes") => {
            let commit = repo.find_commit(*oid).map_err(internal)?;
            Ok(Resolved::Many(
                commit.parent_ids().take(*first).map(Obj::Commit).collect(),
            ))
        }
        (Obj::Parents { oid, .. }, "totalCount") => scalar(
            repo.find_commit(*oid)
                .map_err(internal)?
                .parent_count()
                .into(),
        ),
        (Obj::Commit(oid), "author") => {
            let commit = repo.find_commit(*oid).map_err(internal)?;
            let author = commit.author();
            Ok(Resolved::One(Obj::Actor {
                name: String::from_utf8_lossy(author.name_bytes()).into_owned(),
                email: String::from_utf8_lossy(author.email_bytes()).into_owned(),
            }))
        }
        (Obj::Actor { name, .. }, "name") => scalar(name.clone().into()),
        (Obj::Actor { email, .. }, "email") => scalar(email.clone().into()),
        (
            Obj::History {
                from,
                first,
                skip,
                path,
            },
            "nodes",
        ) => Ok(Resolved::Many(history(
            ctx,
            *from,
            path.as_deref(),
            *skip,
            *first,
        )?)),
        (
            Obj::History {
                from,
                first,
                skip,
                path,
            },
            "pageInfo",
        ) => {
            let page = history(ctx, *from, path.as_deref(), *skip, *first + 1)?;
            let shown = page.len().min(*first);
            Ok(Resolved::One(Obj::PageInfo {
                has_next: page.len() > *first,
                end: (shown > 0).then(|| format!("{from} {}", skip + shown - 1)),
            }))
        }
        (Obj::PageInfo { has_next, .. }, "hasNextPage") => scalar((*has_next).into()),
        (Obj::PageInfo { end, .. }, "endCursor") => scalar(end.clone().into()),
        (Obj::Entry { path, .. }, "path") => scalar(path.clone().into()),
        (Obj::Entry { path, .. }, "name") => {
            scalar(path.rsplit('/').next().unwrap_or_default().into())
        }
        (Obj::Entry { oid, .. }, "oid") => scalar(oid.to_string().into()),
        (Obj::Entry { mode, .. }, "mode") => scalar((*mode).into()),
        (Obj::Entry { kind, .. }, "type") => scalar(
            match kind {
                ObjectType::Tree => "tree",
                ObjectType::Commit => "commit",
                _ => "blob",
            }
            .into(),
        ),
        (
            Obj::Entry {
                oid, kind, path, ..
            },
            "object",
        ) => match kind {
            ObjectType::Tree => Ok(Resolved::One(Obj::Tree {
                oid: *oid,
                path: path.clone(),
            })),
            ObjectType::Blob => Ok(Resolved::One(Obj::Blob(*oid))),
            _ => null(),
        },
        (Obj::Tree { oid, .. } | Obj::Blob(oid), "oid") => scalar(oid.to_string().into()),
        (Obj::Tree { oid, path }, "entries") => {
            let tree = repo.find_tree(*oid).map_err(internal)?;
            let entries = tree
                .iter()
                .map(|entry| {
                    let name = entry.name().unwrap_or_default();
                    Obj::Entry {
                        path: if path.is_empty() {
                            name.to_owned()
                        } else {
                            format!("{path}/{name}")
                        },
                        oid: entry.id(),
                        kind: entry.kind().unwrap_or(ObjectType::Any),
                        mode: entry.filemode(),
                    }
                })
                .collect();
            Ok(Resolved::Many(entries))
        }
        (Obj::Blob(oid), field @ ("text" | "isTruncated" | "isBinary" | "byteSize")) => {
            let blob = repo.find_blob(*oid).map_err(internal)?;
            let content = blob.content();
            let text = std::str::from_utf8(content)
                .ok()
                .filter(|_| !blob.is_binary());
            scalar(match field {
                "byteSize" => content.len().into(),
                "isBinary" => text.is_none().into(),
                "isTruncated" => (text.is_some() && content.len() > ctx.blob_text_limit).into(),
                _ => text.map_or(Value::Null, |t| {
                    truncate(t, ctx.blob_text_limit).to_owned().into()
                }),
            })
        }
        (obj, name) => Err(GqlError::typed(
            "UNPROCESSABLE",
            format!("this test server does not serve {}.{name}", obj.typename()),
        )),
    }
}

fn text_arg(args: &Map<String, Value>, name: &str) -> String {
    args.get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The longest prefix of `text` within `limit` bytes that ends on a character boundary.
fn truncate(text: &str, limit: usize) -> &str {
    let mut end = limit.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A history cursor is `<start oid> <index>`, as GitHub's are.
fn cursor_index(cursor: &str, from: Oid) -> Result<usize, GqlError> {
    cursor
        .split_once(' ')
        .filter(|(oid, _)| *oid == from.to_string())
        .and_then(|(_, index)| index.parse().ok())
        .ok_or_else(|| {
            GqlError::typed(
                "INVALID_CURSOR_ARGUMENTS",
                format!("`{cursor}` does not appear to be a valid cursor."),
            )
        })
}

/// The head commit of `pull`: its head branch's tip.
fn pull_head(repo: &Repository, pull: &super::pulls::Pull) -> Result<Oid, GqlError> {
    repo.refname_to_id(&format!("refs/heads/{}", pull.head_ref))
        .map_err(internal)
}

/// The commits from `from`, newest first; with a `path`, only those that changed it: a
/// commit whose entry at `path` matches any parent's (a merge that took one side's) is left
/// out, as `git log -- <path>` leaves it out. A path's history is listed whole once per start
/// commit and kept, so its pages are slices.
fn history(
    ctx: &Context<'_>,
    from: Oid,
    path: Option<&str>,
    skip: usize,
    take: usize,
) -> Result<Vec<Obj>, GqlError> {
    let repo = ctx.repo;
    let Some(path) = path else {
        let walk = log(repo, from)?;
        return walk
            .skip(skip)
            .take(take)
            .map(|oid| oid.map(Obj::Commit).map_err(internal))
            .collect();
    };
    let key = (from, path.to_owned());
    let known = ctx.histories.lock().expect("lock").get(&key).cloned();
    let listed = match known {
        Some(listed) => listed,
        None => {
            let listed = std::sync::Arc::new(path_history(repo, from, path)?);
            ctx.histories
                .lock()
                .expect("lock")
                .insert(key, std::sync::Arc::clone(&listed));
            listed
        }
    };
    Ok(listed
        .iter()
        .skip(skip)
        .take(take)
        .copied()
        .map(Obj::Commit)
        .collect())
}

/// The commits from `from` as `git log` lists them: newest first, never a parent before its
/// child.
fn log(repo: &Repository, from: Oid) -> Result<git2::Revwalk<'_>, GqlError> {
    let mut walk = repo.revwalk().map_err(internal)?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME)
        .map_err(internal)?;
    walk.push(from).map_err(internal)?;
    Ok(walk)
}

/// Every commit from `from` that changed `path`, as GitHub lists them: by `git log -- <path>`
/// on the repository itself, history simplification included.
fn path_history(repo: &Repository, from: Oid, path: &str) -> Result<Vec<Oid>, GqlError> {
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(repo.path())
        .args(["log", "--format=%H", &from.to_string(), "--", path])
        .output()
        .map_err(|e| GqlError {
            kind: None,
            message: format!("Something went wrong while executing your query. ({e})"),
        })?;
    if !out.status.success() {
        return Err(GqlError {
            kind: None,
            message: format!(
                "Something went wrong while executing your query. ({})",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| Oid::from_str(line.trim()).map_err(internal))
        .collect()
}

fn internal(e: git2::Error) -> GqlError {
    GqlError {
        kind: None,
        message: format!("Something went wrong while executing your query. ({e})"),
    }
}

/// `createCommitOnBranch`: GitHub's checks, then a real commit and a compare-and-swap of the
/// branch, so a writer that read an older head is refused with `STALE_DATA`.
fn create_commit_on_branch(ctx: &mut Context<'_>, input: &Value) -> Result<Oid, GqlError> {
    let repo = ctx.repo;
    let branch = &input["branch"];
    let asked = branch["repositoryNameWithOwner"]
        .as_str()
        .unwrap_or_default();
    if asked != ctx.name_with_owner {
        return Err(GqlError::typed(
            "NOT_FOUND",
            format!("Could not resolve to a Repository with the name '{asked}'."),
        ));
    }
    let branch_name = branch["branchName"].as_str().unwrap_or_default();
    if let Some((status, message)) = ctx.access.refusal(branch_name) {
        let kind = if status == axum::http::StatusCode::FORBIDDEN {
            "FORBIDDEN"
        } else {
            "UNPROCESSABLE"
        };
        return Err(GqlError::typed(kind, message));
    }
    let refname = format!("refs/heads/{branch_name}");
    let Ok(mut head) = repo.refname_to_id(&refname) else {
        return Err(GqlError::typed(
            "NOT_FOUND",
            format!("A ref named \"{branch_name}\" does not exist."),
        ));
    };
    if let Some((path, bytes)) = ctx.race.take() {
        head = commit_files(
            repo,
            &refname,
            head,
            &[(path, Some(bytes))],
            "Another writer",
        )?;
    }
    let expected = input["expectedHeadOid"].as_str().unwrap_or_default();
    if expected != head.to_string() {
        return Err(GqlError::typed(
            "STALE_DATA",
            format!(
                "Expected branch to point to \"{expected}\" but it did not. Pull and try again."
            ),
        ));
    }
    let changes = &input["fileChanges"];
    // An explicit null list fails GitHub's resolver with its opaque error.
    for list in ["additions", "deletions"] {
        if changes.get(list) == Some(&Value::Null) {
            return Err(GqlError {
                kind: None,
                message: "Something went wrong while executing your query. Please include `5F2A:1B3C` when reporting this issue.".into(),
            });
        }
    }
    let tree = repo
        .find_commit(head)
        .and_then(|c| c.tree())
        .map_err(internal)?;
    let mut edits: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    for deletion in changes["deletions"].as_array().into_iter().flatten() {
        let path = deletion["path"].as_str().unwrap_or_default();
        let is_file = tree
            .get_path(FsPath::new(path))
            .is_ok_and(|e| e.kind() == Some(ObjectType::Blob));
        if !is_file {
            return Err(GqlError::typed(
                "UNPROCESSABLE",
                format!(
                    "A path was requested for deletion which does not exist as of commit oid `{head}`"
                ),
            ));
        }
        edits.push((path.to_owned(), None));
    }
    for addition in changes["additions"].as_array().into_iter().flatten() {
        let path = addition["path"].as_str().unwrap_or_default();
        let contents = addition["contents"].as_str().unwrap_or_default();
        let bytes = BASE64.decode(contents).map_err(|_| {
            GqlError::typed(
                "UNPROCESSABLE",
                format!("Invalid base64 encoding of file contents for {path}"),
            )
        })?;
        edits.push((path.to_owned(), Some(bytes)));
    }
    let message = &input["message"];
    let mut text = message["headline"].as_str().unwrap_or_default().to_owned();
    if let Some(body) = message["body"].as_str() {
        text = format!("{text}\n\n{body}");
    }
    commit_files(repo, &refname, head, &edits, &text)
}

/// Commits `edits` (a path and its new bytes, or `None` to delete) on `head` and moves
/// `refname` from `head` to it, failing if the ref moved meanwhile.
pub fn commit_files(
    repo: &Repository,
    refname: &str,
    head: Oid,
    edits: &[(String, Option<Vec<u8>>)],
    message: &str,
) -> Result<Oid, GqlError> {
    let parent = repo.find_commit(head).map_err(internal)?;
    let base = parent.tree().map_err(internal)?;
    let mut update = TreeUpdateBuilder::new();
    for (path, bytes) in edits {
        match bytes {
            Some(bytes) => {
                let blob = repo.blob(bytes).map_err(internal)?;
                update.upsert(path, blob, FileMode::Blob);
            }
            None => {
                update.remove(path);
            }
        }
    }
    let tree_id = update.create_updated(repo, &base).map_err(internal)?;
    let tree = repo.find_tree(tree_id).map_err(internal)?;
    // GitHub authors and signs the commit as the credential's owner.
    let author = Signature::now(
        "berth-test[bot]",
        "berth-test[bot]@users.noreply.github.com",
    )
    .map_err(internal)?;
    let commit = repo
        .commit(None, &author, &author, message, &tree, &[&parent])
        .map_err(internal)?;
    repo.reference_matching(refname, commit, true, head, "createCommitOnBranch")
        .map_err(|_| {
            GqlError::typed(
                "STALE_DATA",
                format!("Ref {refname} is at a newer commit but expected {head}"),
            )
        })?;
    Ok(commit)
}

/// The JSON errors of an answer.
pub fn errors_json(errors: &[GqlError], field: Option<&str>) -> Value {
    errors
        .iter()
        .map(|e| {
            let mut error = json!({"message": e.message, "locations": [{"line": 1, "column": 1}]});
            if let Some(kind) = e.kind {
                error["type"] = kind.into();
            }
            if let Some(field) = field {
                error["path"] = json!([field]);
            }
            error
        })
        .collect()
}
