//! All personas compiled together: one `GlobSet` for every filter and
//! exclude, so a path is matched once (SPEC §10), and one `RegexSet` of
//! every trigger, so one pass over a file says which triggers can fire.

use globset::{Candidate, GlobSet, GlobSetBuilder};
use regex::bytes::{Regex, RegexSet, RegexSetBuilder};

use crate::config::extends::{Expanded, Fetched, Reader};
use crate::config::{self, BASELINE_PATH, FailOn, RawConfig, Source, Validator};
use crate::error::ConfigErrors;
use crate::persona::{self, Persona, REGEX_SIZE_LIMIT};
use crate::severity::{Context, Severity, Threshold};

#[derive(Debug, Clone, Copy)]
enum GlobRole {
    Filter,
    Exclude,
    Ignore,
    /// A change rule's `when_changed` / `require_changed` (SPEC §11).
    When,
    Require,
}

#[derive(Debug, Clone, Copy)]
struct GlobOwner {
    persona: usize,
    role: GlobRole,
    /// Index into the persona's `filters`/`exclude` (or config `ignore`).
    pattern: usize,
}

/// Why a persona does or does not take a path (for `valve explain`).
#[derive(Debug, Clone)]
pub struct Verdict {
    pub persona: usize,
    pub filter: Option<String>,
    pub exclude: Option<String>,
    pub takes: bool,
}

#[derive(Debug, Clone)]
pub struct Ruleset {
    pub personas: Vec<Persona>,
    pub ignore: Vec<String>,
    pub max_file_size: u64,
    pub max_findings: usize,
    pub fail_on: FailOn,
    /// Severities of valve's own findings about markers (SPEC §11).
    pub suppressions: crate::config::SuppressionLevels,
    pub warnings: Vec<String>,
    globs: GlobSet,
    owners: Vec<GlobOwner>,
    /// The config text, then each file it extends (SPEC §12), for
    /// diagnostics found when compiling triggers.
    sources: Vec<Source>,
    /// Per persona: the index in `sources` of the file it was written in.
    origin: Vec<usize>,
    /// The files the config extends, repo-relative: valve's own files.
    pub extended: Vec<String>,
    /// Nested configs (SPEC §12), sorted by folder.
    scopes: Vec<Scope>,
    /// Each nested config's folder (`D/`) to its place in `scopes`: a path
    /// asks only about the folders above it, not every nested config.
    scope_at: std::collections::HashMap<String, usize>,
    /// Per persona: 0 for the root config's, `k + 1` for `scopes[k]`'s.
    scope_of: Vec<usize>,
}

/// A nested config: the folder it governs and its own glob set, matched
/// against paths relative to that folder.
#[derive(Debug, Clone)]
struct Scope {
    /// Repo-relative, with its trailing `/`: `packages/web/`.
    dir: String,
    /// The config file, repo-relative (`packages/web/.sage/valve.yml`).
    path: String,
    globs: GlobSet,
    owners: Vec<GlobOwner>,
    ignore: Vec<String>,
}

/// A nested config found for a run, with every file it extends.
pub struct Nested {
    /// The folder it governs, repo-relative with a trailing `/`.
    pub dir: String,
    /// The config file, repo-relative.
    pub path: String,
    pub expanded: Expanded,
}

/// Every trigger compiled: one regex each, and one `RegexSet` of them all so
/// that one pass over a file says which triggers can fire. Built apart from
/// the `Ruleset` so that `check` can compile while git lists the changes.
#[derive(Debug)]
pub struct Matchers {
    /// `regexes[persona][trigger]`.
    regexes: Vec<Vec<Regex>>,
    /// First slot of each persona's triggers in the set.
    base: Vec<usize>,
    /// Every trigger's pattern, in set order.
    patterns: Vec<String>,
    /// The set, built when the first file is read: a run that reads none
    /// (nothing staged) never pays for it. Its failure is never reported
    /// (it only loses the shortcut), so building it late changes nothing.
    prefilter: std::sync::OnceLock<Option<RegexSet>>,
}

impl Matchers {
    pub fn regex(&self, pi: usize, ti: usize) -> Option<&Regex> {
        self.regexes.get(pi).and_then(|r| r.get(ti))
    }

    /// One pass over `content`: which triggers can match at all.
    /// `None` means "no shortcut available, try them all".
    pub fn candidates(&self, content: &[u8]) -> Option<regex::bytes::SetMatches> {
        self.prefilter
            .get_or_init(|| prefilter(&self.patterns))
            .as_ref()
            .map(|set| set.matches(content))
    }

    /// Whether trigger `ti` of persona `pi` is among the set's matches.
    pub fn may_match(&self, set: Option<&regex::bytes::SetMatches>, pi: usize, ti: usize) -> bool {
        match set {
            None => true,
            Some(m) => m.matched(self.base[pi] + ti),
        }
    }
}

/// What one glob-set pass says about a path.
struct PathHits {
    own_file: bool,
    /// The config `ignore` pattern that matched.
    ignore: Option<usize>,
    /// Per persona: (first filter, first exclude) that matched.
    personas: Vec<(Option<usize>, Option<usize>)>,
    /// Per nested scope: `None` when the path is outside its folder, else
    /// the scope's `ignore` pattern that hides the path from its personas.
    scopes: Vec<Option<Option<usize>>>,
}

impl PathHits {
    fn is_ignored(&self) -> bool {
        self.own_file || self.ignore.is_some()
    }
}

/// Personas that take a path, in config order.
pub type Takers = Vec<usize>;

impl Ruleset {
    /// Compiles a validated config; bad globs and regexes are all reported.
    pub fn compile(raw: &RawConfig, source: &Source) -> Result<Ruleset, ConfigErrors> {
        let expanded = Expanded {
            raw: raw.clone(),
            sources: vec![source.clone()],
            origin: vec![0; raw.personas.len()],
            files: Vec::new(),
            issues: Vec::new(),
        };
        Ruleset::compile_with(expanded)
    }

    /// Compiles, adding pattern errors to those validation already found;
    /// each persona's are reported in the file it was written in.
    fn compile_with(expanded: Expanded) -> Result<Ruleset, ConfigErrors> {
        let Expanded {
            raw,
            sources,
            origin,
            files,
            issues,
        } = expanded;
        let mut vs: Vec<Validator> = sources
            .iter()
            .map(|s| Validator::new(s, Vec::new()))
            .collect();
        vs[0].issues = issues;
        let (globs, owners, personas) = glob_index(&mut vs, &raw, &origin, 0);
        let rules = Ruleset {
            personas,
            ignore: raw.ignore.iter().map(|s| s.value.clone()).collect(),
            max_file_size: raw.max_file_size,
            max_findings: raw.max_findings,
            fail_on: raw.fail_on,
            suppressions: raw.suppressions,
            warnings: raw.warnings.clone(),
            globs,
            owners,
            sources: Vec::new(),
            scope_of: vec![0; origin.len()],
            origin,
            extended: files,
            scopes: Vec::new(),
            scope_at: std::collections::HashMap::new(),
        };
        let issues: Vec<_> = vs.into_iter().flat_map(|v| v.issues).collect();
        let rules = Ruleset { sources, ..rules };
        if !issues.is_empty() {
            // Report bad regexes in the same run as every other problem.
            let mut issues = issues;
            if let Err(e) = rules.matchers() {
                issues.extend(e.issues);
            }
            return Err(errors(&rules.sources, issues));
        }
        Ok(rules)
    }

    /// Adds nested configs (SPEC §12): each one's personas, named
    /// `D/:Name`, judge the paths under its folder `D/` with globs relative
    /// to it, after the root's, in folder order. Every problem of every
    /// nested config is reported, each in its file.
    pub fn add_nested(&mut self, mut nested: Vec<Nested>) -> Result<(), ConfigErrors> {
        nested.sort_by(|a, b| a.dir.cmp(&b.dir));
        let mut issues = Vec::new();
        for n in nested {
            let Expanded {
                raw,
                sources,
                origin,
                files,
                issues: found,
            } = n.expanded;
            let offset = self.sources.len();
            let first = self.personas.len();
            let mut vs: Vec<Validator> = sources
                .iter()
                .map(|s| Validator::new(s, Vec::new()))
                .collect();
            vs[0].issues = found;
            vs[0].issues.extend(config::nested_issues(&sources[0]));
            let (globs, owners, personas) = glob_index(&mut vs, &raw, &origin, first);
            issues.extend(vs.into_iter().flat_map(|v| v.issues));
            let scope = self.scopes.len() + 1;
            for mut p in personas {
                p.name = format!("{}:{}", n.dir, p.name);
                self.personas.push(p);
                self.scope_of.push(scope);
            }
            self.origin.extend(origin.iter().map(|o| o + offset));
            self.sources.extend(sources);
            self.extended.extend(files);
            self.scope_at.insert(n.dir.clone(), self.scopes.len());
            self.scopes.push(Scope {
                dir: n.dir,
                path: n.path,
                globs,
                owners,
                ignore: raw.ignore.iter().map(|s| s.value.clone()).collect(),
            });
        }
        if !issues.is_empty() {
            if let Err(e) = self.matchers() {
                issues.extend(e.issues);
            }
            return Err(errors(&self.sources, issues));
        }
        Ok(())
    }

    /// The folder persona `pi` governs: `D/` for a nested config's, `""`
    /// for the root's.
    pub fn folder_of(&self, pi: usize) -> &str {
        match self.scope_of.get(pi).copied().unwrap_or(0) {
            0 => "",
            k => &self.scopes[k - 1].dir,
        }
    }

    /// The nested configs in use, repo-relative.
    pub fn nested_paths(&self) -> impl Iterator<Item = &str> {
        self.scopes.iter().map(|s| s.path.as_str())
    }

    /// Compiles every trigger; bad ones are config errors at their span,
    /// in the file the persona was written in.
    pub fn matchers(&self) -> Result<Matchers, ConfigErrors> {
        let mut vs: Vec<Validator> = self
            .sources
            .iter()
            .map(|s| Validator::new(s, Vec::new()))
            .collect();
        let mut regexes = Vec::with_capacity(self.personas.len());
        let mut base = Vec::with_capacity(self.personas.len());
        let mut patterns = Vec::new();
        let total: usize = self.personas.iter().map(|p| p.triggers.len()).sum();
        let mut budget = persona::Budget::new(total);
        for (pi, p) in self.personas.iter().enumerate() {
            let v = &mut vs[self.origin.get(pi).copied().unwrap_or(0)];
            base.push(patterns.len());
            let mut compiled = Vec::with_capacity(p.triggers.len());
            for t in &p.triggers {
                if let Some(r) = persona::compile_trigger(v, &p.name, t, &mut budget) {
                    compiled.push(r);
                }
                patterns.push(t.pattern.clone());
            }
            regexes.push(compiled);
        }
        let issues: Vec<_> = vs.into_iter().flat_map(|v| v.issues).collect();
        if !issues.is_empty() {
            return Err(errors(&self.sources, issues));
        }
        Ok(Matchers {
            regexes,
            base,
            patterns,
            prefilter: std::sync::OnceLock::new(),
        })
    }

    /// A hash of the config text and of every file it extends, hex: which
    /// policy judged a report.
    pub fn digest(&self) -> String {
        let mut bytes = Vec::new();
        for (i, source) in self.sources.iter().enumerate() {
            if i > 0 {
                bytes.push(0);
                bytes.extend_from_slice(source.name.as_bytes());
                bytes.push(0);
            }
            bytes.extend_from_slice(source.text.as_bytes());
        }
        format!("{:016x}", crate::shard::fnv1a64(&bytes))
    }

    /// Whether both extend the same files and have the same nested configs,
    /// with the same texts.
    pub fn same_extended(&self, other: &Ruleset) -> bool {
        self.extended == other.extended
            && self.nested_paths().eq(other.nested_paths())
            && self.sources.len() == other.sources.len()
            && self
                .sources
                .iter()
                .zip(&other.sources)
                .skip(1)
                .all(|(a, b)| a.text == b.text)
    }

    /// Parses and compiles config text in one step; an `extends` entry is
    /// a config error (there is no repository to read it from).
    pub fn from_source(source: &Source) -> Result<Ruleset, ConfigErrors> {
        let nothing = |_: &str| Ok(Fetched::Refused("not readable here".to_string()));
        let reader = Reader {
            prefix: String::new(),
            dir: String::new(),
            fetch: &nothing,
        };
        match config::extends::expand(source, None, &reader) {
            Ok(expanded) => Ruleset::compile_with(expanded),
            // The reader above fails no read.
            Err(_) => {
                let (raw, issues) = config::parse_lenient(source);
                Ruleset::compile_with(Expanded {
                    origin: vec![0; raw.personas.len()],
                    raw,
                    sources: vec![source.clone()],
                    files: Vec::new(),
                    issues,
                })
            }
        }
    }

    /// Parses and compiles a config of the work tree at `root` with every
    /// file it extends, read as own files (SPEC §12, §9).
    pub fn load_worktree(
        source: &Source,
        root: &std::path::Path,
        config_path: &std::path::Path,
    ) -> crate::error::Result<Ruleset> {
        let fetch = |rel: &str| crate::ownfile::read_inside(root, rel);
        let reader = Reader {
            prefix: String::new(),
            dir: String::new(),
            fetch: &fetch,
        };
        let self_rel = config_path
            .strip_prefix(root)
            .ok()
            .and_then(|p| p.to_str())
            .map(str::to_string);
        let expanded = config::extends::expand(source, self_rel.as_deref(), &reader)?;
        Ok(Ruleset::compile_with(expanded)?)
    }

    /// Parses and compiles the config committed at `rev` (at `path`), its
    /// extended files read from the same revision; `name` names the
    /// revision in diagnostics.
    pub fn load_revision(
        repo: &crate::git::Repo,
        source: &Source,
        rev: &str,
        name: &str,
        path: &str,
    ) -> crate::error::Result<Ruleset> {
        let fetch = |rel: &str| repo.extended_file_at(rev, rel, crate::ownfile::MAX_INPUT);
        let reader = Reader {
            prefix: format!("{name}:"),
            dir: String::new(),
            fetch: &fetch,
        };
        let expanded = config::extends::expand(source, Some(path), &reader)?;
        Ok(Ruleset::compile_with(expanded)?)
    }

    /// The one glob-set pass for a path: the ignore pattern that removes
    /// it, and per persona the first filter and exclude that matched
    /// (pattern indices). Every question about a path is answered from this.
    fn path_hits(&self, path: &str, scratch: &mut Vec<usize>) -> PathHits {
        let mut out = PathHits {
            own_file: config::is_config_path(path)
                || path == BASELINE_PATH
                || self.extended.iter().any(|f| f == path),
            ignore: None,
            personas: vec![(None, None); self.personas.len()],
            scopes: vec![None; self.scopes.len()],
        };
        let mut record = |owners: &[GlobOwner], hits: &[usize], ignore: &mut Option<usize>| {
            for &h in hits {
                let owner = owners[h];
                match owner.role {
                    GlobRole::Ignore => {
                        ignore.get_or_insert(owner.pattern);
                    }
                    GlobRole::Filter => {
                        out.personas[owner.persona].0.get_or_insert(owner.pattern);
                    }
                    GlobRole::Exclude => {
                        out.personas[owner.persona].1.get_or_insert(owner.pattern);
                    }
                    // Asked apart, by `change_rule_hits`.
                    GlobRole::When | GlobRole::Require => {}
                }
            }
        };
        self.match_globs(path, scratch, |scope, owners, hits| match scope {
            None => record(owners, hits, &mut out.ignore),
            Some(k) => {
                let mut ignore = None;
                record(owners, hits, &mut ignore);
                out.scopes[k] = Some(ignore);
            }
        });
        out
    }

    /// Matches `path` against the root config's globs, then against each
    /// nested scope's above it with its folder stripped: `visit` gets the
    /// scope (`None`: the root's), its glob owners and the matches.
    fn match_globs(
        &self,
        path: &str,
        scratch: &mut Vec<usize>,
        mut visit: impl FnMut(Option<usize>, &[GlobOwner], &[usize]),
    ) {
        scratch.clear();
        self.globs
            .matches_candidate_into(&Candidate::new(path), scratch);
        visit(None, &self.owners, scratch);
        for (k, rest) in self.scopes_above(path) {
            let scope = &self.scopes[k];
            scratch.clear();
            scope
                .globs
                .matches_candidate_into(&Candidate::new(rest), scratch);
            visit(Some(k), &scope.owners, scratch);
        }
    }

    /// The nested configs whose folder is above `path`, shallowest first,
    /// each with the path relative to its folder: one lookup per folder of
    /// the path, however many nested configs there are.
    fn scopes_above<'a>(&'a self, path: &'a str) -> impl Iterator<Item = (usize, &'a str)> + 'a {
        let any = !self.scopes.is_empty();
        memchr::memchr_iter(b'/', path.as_bytes())
            .take_while(move |_| any)
            .filter_map(move |i| {
                let k = *self.scope_at.get(&path[..=i])?;
                Some((k, &path[i + 1..]))
            })
    }

    /// Whether persona `persona` judges a path of these hits: inside its
    /// config's folder and not hidden by that config's `ignore`, a filter
    /// matches (or it has none) and no exclude does.
    fn takes(&self, persona: usize, hits: &PathHits) -> bool {
        let p = &self.personas[persona];
        let hit = hits.personas[persona];
        let in_scope = match self.scope_of.get(persona).copied().unwrap_or(0) {
            0 => true,
            k => matches!(hits.scopes.get(k - 1), Some(Some(None))),
        };
        in_scope
            && !p.is_change_rule()
            && (p.filters.is_empty() || hit.0.is_some())
            && hit.1.is_none()
    }

    /// Which change rules' `when_changed` and `require_changed` globs match
    /// `path` (persona positions, each list ascending); a nested config's
    /// rules see the paths under its folder, relative to it.
    pub fn change_rule_hits(
        &self,
        path: &str,
        scratch: &mut Vec<usize>,
    ) -> (Vec<usize>, Vec<usize>) {
        let (mut when, mut require) = (Vec::new(), Vec::new());
        let mut record = |owners: &[GlobOwner], hits: &[usize]| {
            for &h in hits {
                let owner = owners[h];
                match owner.role {
                    GlobRole::When => when.push(owner.persona),
                    GlobRole::Require => require.push(owner.persona),
                    _ => {}
                }
            }
        };
        self.match_globs(path, scratch, |_, owners, hits| record(owners, hits));
        for list in [&mut when, &mut require] {
            list.sort_unstable();
            list.dedup();
        }
        (when, require)
    }

    /// Whether any persona is a change rule.
    pub fn has_change_rules(&self) -> bool {
        self.personas.iter().any(|p| p.is_change_rule())
    }

    fn taking(&self, hits: &PathHits) -> Takers {
        (0..self.personas.len())
            .filter(|&i| self.takes(i, hits))
            .collect()
    }

    /// Whether the root config's `ignore` hides `path`.
    pub fn ignore_hides(&self, path: &str) -> bool {
        self.path_hits(path, &mut Vec::new()).ignore.is_some()
    }

    /// valve's own files and the config's `ignore` are never evaluated.
    pub fn is_ignored(&self, path: &str) -> bool {
        self.path_hits(path, &mut Vec::new()).is_ignored()
    }

    /// Which personas take `path`: a filter matches (or there are none) and no
    /// exclude does. The config's `ignore` is not consulted (see `route`).
    pub fn takers(&self, path: &str, scratch: &mut Vec<usize>) -> Takers {
        let hits = self.path_hits(path, scratch);
        self.taking(&hits)
    }

    /// The personas that judge `path`, or `None` when it is ignored: one
    /// glob-set pass for the hot path.
    pub fn route(&self, path: &str, scratch: &mut Vec<usize>) -> Option<Takers> {
        let hits = self.path_hits(path, scratch);
        (!hits.is_ignored()).then(|| self.taking(&hits))
    }

    /// Like `takers`, with the glob that decided each persona (`valve explain`).
    pub fn verdicts(&self, path: &str, scratch: &mut Vec<usize>) -> Vec<Verdict> {
        let hits = self.path_hits(path, scratch);
        hits.personas
            .iter()
            .enumerate()
            .map(|(i, &hit)| {
                let p = &self.personas[i];
                let scope = self.scope_of.get(i).copied().unwrap_or(0);
                let outside = scope > 0 && hits.scopes.get(scope - 1) == Some(&None);
                // A nested config's `ignore` hides the path from its own
                // personas: shown as what removed it.
                let hidden = scope
                    .checked_sub(1)
                    .and_then(|k| hits.scopes.get(k).copied().flatten().flatten())
                    .map(|x| {
                        let s = &self.scopes[scope - 1];
                        format!("{} (`ignore` in {})", s.ignore[x], s.path)
                    });
                Verdict {
                    persona: i,
                    filter: match hit.0 {
                        _ if outside => None,
                        Some(f) => Some(p.filters[f].clone()),
                        None if p.filters.is_empty() => Some("(no filters: every path)".into()),
                        None => None,
                    },
                    exclude: hidden.or_else(|| hit.1.map(|x| p.exclude[x].clone())),
                    takes: self.takes(i, &hits),
                }
            })
            .collect()
    }

    /// The ignore pattern that removes `path`, for `valve explain`.
    pub fn ignored_by(&self, path: &str) -> Option<String> {
        let hits = self.path_hits(path, &mut Vec::new());
        if hits.own_file {
            return Some("(valve's own file)".into());
        }
        hits.ignore.map(|i| self.ignore[i].clone())
    }

    /// The personas as renderers see them.
    pub fn infos(&self) -> Vec<crate::finding::PersonaInfo> {
        self.personas
            .iter()
            .map(|p| crate::finding::PersonaInfo {
                name: p.name.clone(),
                description: p.description.clone(),
                message: p.message.clone(),
                severity: p.severity,
                response: p.response.clone(),
                filters: p.filters.clone(),
                triggers: p.triggers.iter().map(|t| t.pattern.clone()).collect(),
                redact: p.redact,
                allow_ignore: p.allow_ignore,
                tags: p.tags.clone(),
                security_severity: p.security_severity,
                help_uri: p.help_uri.clone(),
            })
            .chain(self.own_infos())
            .collect()
    }

    /// valve's own personas about markers (SPEC §11), after the config's:
    /// their findings sort and show as any persona's.
    fn own_infos(&self) -> impl Iterator<Item = crate::finding::PersonaInfo> + '_ {
        [
            (
                crate::scan::UNUSED_SUPPRESSION,
                self.suppressions.unused,
                "A valve:ignore marker that silenced nothing: remove it, or fix the persona names it lists.",
            ),
            (
                crate::scan::EXPIRED_SUPPRESSION,
                self.suppressions.expired,
                "A valve:ignore marker past its until date: it silences nothing; fix the finding or renew the date with a reason.",
            ),
        ]
        .into_iter()
        .map(|(name, level, about)| crate::finding::PersonaInfo {
            name: name.to_string(),
            description: Some(about.to_string()),
            message: None,
            // A level that is off still names the rule (positions stay put).
            severity: level.unwrap_or(crate::severity::Severity::Info),
            response: None,
            filters: Vec::new(),
            triggers: Vec::new(),
            redact: false,
            allow_ignore: false,
            tags: Vec::new(),
            security_severity: None,
            help_uri: None,
        })
    }

    /// The threshold for a context and where it came from.
    pub fn threshold(&self, context: Context) -> (Threshold, String) {
        let specific = match context {
            Context::Hook => self.fail_on.hook,
            Context::Ci => self.fail_on.ci,
            Context::Watch => self.fail_on.watch,
            Context::Default => None,
        };
        if let Some(t) = specific {
            return (t, format!("fail_on.{} in the config", context.as_str()));
        }
        if let Some(t) = self.fail_on.default {
            return (t, "fail_on in the config".into());
        }
        (Threshold::AtLeast(Severity::Error), "the default".into())
    }
}

/// The `RegexSet` of every trigger, or `None` without triggers. A set too
/// big to compile only loses the shortcut, never correctness; it is held to
/// a quarter of the triggers' budget.
fn prefilter(patterns: &[String]) -> Option<RegexSet> {
    if patterns.is_empty() {
        return None;
    }
    RegexSetBuilder::new(patterns)
        .multi_line(true)
        .crlf(true)
        .size_limit(persona::TRIGGERS_SIZE_LIMIT / 4)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .ok()
}

/// One config's glob index: its `ignore` patterns, and each persona's
/// filters, change-rule globs and excludes, in one `GlobSet`; with the
/// compiled personas. Persona `pi` of `raw` is `first + pi` of the ruleset;
/// each pattern's problems go to the validator of the file it was written in.
fn glob_index(
    vs: &mut [Validator],
    raw: &RawConfig,
    origin: &[usize],
    first: usize,
) -> (GlobSet, Vec<GlobOwner>, Vec<Persona>) {
    let mut builder = GlobSetBuilder::new();
    let mut owners = Vec::new();
    let mut add = |globs: Vec<globset::Glob>, owner: GlobOwner| {
        for g in globs {
            builder.add(g);
            owners.push(owner);
        }
    };
    for (i, pattern) in raw.ignore.iter().enumerate() {
        let globs = persona::compile_glob(&mut vs[0], pattern);
        let owner = GlobOwner {
            persona: usize::MAX,
            role: GlobRole::Ignore,
            pattern: i,
        };
        add(globs, owner);
    }
    let mut personas = Vec::new();
    for (pi, rp) in raw.personas.iter().enumerate() {
        let v = &mut vs[origin.get(pi).copied().unwrap_or(0)];
        let persona = first + pi;
        for (role, patterns) in [
            (GlobRole::Filter, &rp.filters),
            (GlobRole::When, &rp.when_changed),
            (GlobRole::Require, &rp.require_changed),
            (GlobRole::Exclude, &rp.exclude),
        ] {
            for (i, pattern) in patterns.iter().enumerate() {
                let globs = persona::compile_glob(v, pattern);
                let owner = GlobOwner {
                    persona,
                    role,
                    pattern: i,
                };
                add(globs, owner);
            }
        }
        personas.push(persona::compile(rp));
    }
    let globs = match builder.build() {
        Ok(g) => g,
        Err(e) => {
            vs[0].issue(
                miette::SourceSpan::new(0.into(), 0),
                "globs could not be combined",
                e.to_string(),
                None,
            );
            GlobSet::empty()
        }
    };
    (globs, owners, personas)
}

/// Config errors named after the file they are in: the root config when
/// any is there, else the first file with one (an extended or nested
/// config), so the header never names a file without errors.
fn errors(sources: &[Source], issues: Vec<crate::error::ConfigIssue>) -> ConfigErrors {
    let root = &sources[0].name;
    let name = if issues.iter().any(|i| &i.src.name == root) {
        root.clone()
    } else {
        issues
            .iter()
            .map(|i| i.src.name.clone())
            .min()
            .unwrap_or_else(|| root.clone())
    };
    ConfigErrors::new(&name, issues)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Ruleset {
        let source = Source {
            name: "valve.yml".into(),
            text: text.into(),
        };
        match Ruleset::from_source(&source) {
            Ok(r) => r,
            Err(e) => panic!("config should compile: {e:?}"),
        }
    }

    #[test]
    fn excludes_win_over_filters() {
        let r = rules("personas:\n  Docs:\n    filters: ['docs/**']\n    exclude: ['*.png']\n");
        let mut hits = Vec::new();
        assert_eq!(r.takers("docs/a.md", &mut hits), vec![0]);
        assert!(r.takers("docs/img/a.png", &mut hits).is_empty());
    }

    #[test]
    fn no_filters_takes_every_path() {
        let r = rules("personas:\n  All: {}\n  Rs:\n    filters: ['*.rs']\n");
        let mut hits = Vec::new();
        assert_eq!(r.takers("x/y.rs", &mut hits), vec![0, 1]);
        assert_eq!(r.takers("x/y.py", &mut hits), vec![0]);
    }

    #[test]
    fn config_ignore_and_own_files() {
        let r = rules("ignore: ['vendor/**']\npersonas:\n  All: {}\n");
        assert!(r.is_ignored("vendor/a.js"));
        assert!(r.is_ignored(".sage/valve.yml"));
        assert!(!r.is_ignored("src/a.js"));
    }

    #[test]
    fn every_bad_pattern_is_reported() {
        let source = Source {
            name: "valve.yml".into(),
            text: "personas:\n  A:\n    filters: ['src/[a']\n    triggers: ['(unclosed', 'ok', '[z-a]']\n"
                .into(),
        };
        let n = Ruleset::from_source(&source).err().map(|e| e.issues.len());
        assert_eq!(n, Some(3));
    }

    #[test]
    fn a_bad_regex_alone_is_reported_when_triggers_compile() {
        let source = Source {
            name: "valve.yml".into(),
            text: "personas:\n  A:\n    triggers: ['ok', '(unclosed']\n".into(),
        };
        let rules = Ruleset::from_source(&source);
        assert!(rules.is_ok(), "structure and globs are fine");
        let n = rules
            .ok()
            .and_then(|r| r.matchers().err())
            .map(|e| e.issues.len());
        assert_eq!(n, Some(1));
    }

    #[test]
    fn threshold_prefers_the_context() {
        let r = rules("fail_on: { hook: critical, default: warning }\npersonas: {}\n");
        assert_eq!(
            r.threshold(Context::Hook).0,
            Threshold::AtLeast(Severity::Critical)
        );
        assert_eq!(
            r.threshold(Context::Ci).0,
            Threshold::AtLeast(Severity::Warning)
        );
    }
}
