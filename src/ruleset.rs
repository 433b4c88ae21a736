//! All personas compiled together: one `GlobSet` for every filter and
//! exclude, so a path is matched once (SPEC §10), and one `RegexSet` of
//! every trigger, so one pass over a file says which triggers can fire.

use globset::{Candidate, GlobSet, GlobSetBuilder};
use regex::bytes::{Regex, RegexSet, RegexSetBuilder};

use crate::config::extends::{Expanded, Fetched, Reader};
use crate::config::{self, BASELINE_PATH, CONFIG_PATHS, FailOn, RawConfig, Source, Validator};
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

#[derive(Debug)]
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
    prefilter: Option<RegexSet>,
}

impl Matchers {
    pub fn regex(&self, pi: usize, ti: usize) -> Option<&Regex> {
        self.regexes.get(pi).and_then(|r| r.get(ti))
    }

    /// One pass over `content`: which triggers can match at all.
    /// `None` means "no shortcut available, try them all".
    pub fn candidates(&self, content: &[u8]) -> Option<regex::bytes::SetMatches> {
        self.prefilter.as_ref().map(|set| set.matches(content))
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
            add(
                globs,
                GlobOwner {
                    persona: usize::MAX,
                    role: GlobRole::Ignore,
                    pattern: i,
                },
            );
        }
        let mut personas = Vec::new();
        for (pi, rp) in raw.personas.iter().enumerate() {
            let v = &mut vs[origin.get(pi).copied().unwrap_or(0)];
            for (i, pattern) in rp.filters.iter().enumerate() {
                let globs = persona::compile_glob(v, pattern);
                add(
                    globs,
                    GlobOwner {
                        persona: pi,
                        role: GlobRole::Filter,
                        pattern: i,
                    },
                );
            }
            for (role, patterns) in [
                (GlobRole::When, &rp.when_changed),
                (GlobRole::Require, &rp.require_changed),
            ] {
                for (i, pattern) in patterns.iter().enumerate() {
                    let globs = persona::compile_glob(v, pattern);
                    add(
                        globs,
                        GlobOwner {
                            persona: pi,
                            role,
                            pattern: i,
                        },
                    );
                }
            }
            for (i, pattern) in rp.exclude.iter().enumerate() {
                let globs = persona::compile_glob(v, pattern);
                add(
                    globs,
                    GlobOwner {
                        persona: pi,
                        role: GlobRole::Exclude,
                        pattern: i,
                    },
                );
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
            origin,
            extended: files,
        };
        let issues: Vec<_> = vs.into_iter().flat_map(|v| v.issues).collect();
        let rules = Ruleset { sources, ..rules };
        if !issues.is_empty() {
            // Report bad regexes in the same run as every other problem.
            let mut issues = issues;
            if let Err(e) = rules.matchers() {
                issues.extend(e.issues);
            }
            return Err(ConfigErrors::new(&rules.sources[0].name, issues));
        }
        Ok(rules)
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
                patterns.push(t.pattern.as_str());
            }
            regexes.push(compiled);
        }
        let issues: Vec<_> = vs.into_iter().flat_map(|v| v.issues).collect();
        if !issues.is_empty() {
            return Err(ConfigErrors::new(&self.sources[0].name, issues));
        }
        // A set too big to compile only loses the shortcut, never
        // correctness; it is held to a quarter of the triggers' budget.
        let prefilter = if patterns.is_empty() {
            None
        } else {
            RegexSetBuilder::new(&patterns)
                .multi_line(true)
                .crlf(true)
                .size_limit(persona::TRIGGERS_SIZE_LIMIT / 4)
                .dfa_size_limit(REGEX_SIZE_LIMIT)
                .build()
                .ok()
        };
        Ok(Matchers {
            regexes,
            base,
            prefilter,
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

    /// Whether both extend the same files with the same texts.
    pub fn same_extended(&self, other: &Ruleset) -> bool {
        self.extended == other.extended
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
            own_file: CONFIG_PATHS.contains(&path)
                || path == BASELINE_PATH
                || self.extended.iter().any(|f| f == path),
            ignore: None,
            personas: vec![(None, None); self.personas.len()],
        };
        scratch.clear();
        self.globs
            .matches_candidate_into(&Candidate::new(path), scratch);
        for &h in scratch.iter() {
            let owner = self.owners[h];
            match owner.role {
                GlobRole::Ignore => {
                    out.ignore.get_or_insert(owner.pattern);
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
        out
    }

    fn takes(&self, persona: usize, hit: (Option<usize>, Option<usize>)) -> bool {
        let p = &self.personas[persona];
        !p.is_change_rule() && (p.filters.is_empty() || hit.0.is_some()) && hit.1.is_none()
    }

    /// Which change rules' `when_changed` and `require_changed` globs match
    /// `path` (persona positions, each list ascending).
    pub fn change_rule_hits(
        &self,
        path: &str,
        scratch: &mut Vec<usize>,
    ) -> (Vec<usize>, Vec<usize>) {
        let (mut when, mut require) = (Vec::new(), Vec::new());
        scratch.clear();
        self.globs
            .matches_candidate_into(&Candidate::new(path), scratch);
        for &h in scratch.iter() {
            let owner = self.owners[h];
            match owner.role {
                GlobRole::When => when.push(owner.persona),
                GlobRole::Require => require.push(owner.persona),
                _ => {}
            }
        }
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
        hits.personas
            .iter()
            .enumerate()
            .filter(|&(i, &hit)| self.takes(i, hit))
            .map(|(i, _)| i)
            .collect()
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
                Verdict {
                    persona: i,
                    filter: match hit.0 {
                        Some(f) => Some(p.filters[f].clone()),
                        None if p.filters.is_empty() => Some("(no filters: every path)".into()),
                        None => None,
                    },
                    exclude: hit.1.map(|x| p.exclude[x].clone()),
                    takes: self.takes(i, hit),
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
