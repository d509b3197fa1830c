//! The requirement catalog and the skip list, loaded from `conformance/data/`.
//!
//! Both are data so that a reader (or another implementation's CI) can see what is checked
//! without reading Rust, and so that adding a requirement is an edit to one file. Loading
//! validates them: duplicate IDs, empty texts, skips without a reason and skips naming an
//! unknown case are errors, because a silent gap in a conformance suite is worse than none.

use std::collections::BTreeSet;

use serde::Deserialize;

/// The catalog shipped with the suite.
pub const CATALOG_TOML: &str = include_str!("../data/catalog.toml");

/// The skip list shipped with the suite.
pub const SKIPS_TOML: &str = include_str!("../data/skips.toml");

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub id: String,
    pub title: String,
    /// What is checked.
    pub checks: String,
    /// How a failure shows.
    pub failure: String,
}

/// A request ID derivation vector: key bytes (as UTF-8 text) and the ID they must give.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vector {
    pub key: String,
    pub id: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    #[serde(rename = "requirement")]
    pub requirements: Vec<Requirement>,
    #[serde(rename = "vector", default)]
    pub vectors: Vec<Vector>,
}

/// One skipped case on one target (or on every target when `target` is absent).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Skip {
    pub case: String,
    pub target: Option<String>,
    #[serde(default)]
    pub reason: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkipList {
    #[serde(rename = "skip", default)]
    pub skips: Vec<Skip>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog is not valid TOML: {0}")]
    Parse(String),
    #[error("requirement `{0}` is listed twice in the catalog")]
    Duplicate(String),
    #[error("requirement `{0}` has an empty {1}; say what is checked and how a failure shows")]
    Empty(String, &'static str),
    #[error("skip of `{0}` has no reason; every skipped case needs a one-line reason")]
    SkipWithoutReason(String),
    #[error("skip names case `{0}`, which does not exist; remove it or fix the name")]
    UnknownSkip(String),
    #[error("skip of `{case}` names target `{target}`; targets are sim and live")]
    UnknownTarget { case: String, target: String },
    #[error("scenario `{case}` names requirement `{id}`, which is not in the catalog")]
    UnknownRequirement { case: String, id: String },
}

impl Catalog {
    pub fn load(text: &str) -> Result<Catalog, CatalogError> {
        let catalog: Catalog =
            toml::from_str(text).map_err(|e| CatalogError::Parse(e.to_string()))?;
        let mut seen = BTreeSet::new();
        for r in &catalog.requirements {
            if !seen.insert(r.id.as_str()) {
                return Err(CatalogError::Duplicate(r.id.clone()));
            }
            for (field, text) in
                [("title", &r.title), ("checks", &r.checks), ("failure", &r.failure)]
            {
                if text.trim().is_empty() {
                    return Err(CatalogError::Empty(r.id.clone(), field));
                }
            }
        }
        Ok(catalog)
    }

    pub fn shipped() -> Result<Catalog, CatalogError> {
        Catalog::load(CATALOG_TOML)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.requirements.iter().any(|r| r.id == id)
    }
}

impl SkipList {
    /// Parses and validates a skip list against the names of the cases that exist.
    pub fn load(text: &str, cases: &BTreeSet<String>) -> Result<SkipList, CatalogError> {
        let list: SkipList =
            toml::from_str(text).map_err(|e| CatalogError::Parse(e.to_string()))?;
        for skip in &list.skips {
            if skip.reason.trim().is_empty() {
                return Err(CatalogError::SkipWithoutReason(skip.case.clone()));
            }
            if !cases.contains(&skip.case) {
                return Err(CatalogError::UnknownSkip(skip.case.clone()));
            }
            if let Some(target) = &skip.target
                && target != "sim"
                && target != "live"
            {
                return Err(CatalogError::UnknownTarget {
                    case: skip.case.clone(),
                    target: target.clone(),
                });
            }
        }
        Ok(list)
    }

    /// The reason `case` is skipped on `target`, if it is.
    pub fn reason(&self, case: &str, target: &str) -> Option<&str> {
        self.skips
            .iter()
            .find(|s| s.case == case && s.target.as_deref().is_none_or(|t| t == target))
            .map(|s| s.reason.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cases(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_shipped_catalog_lists_every_spec_requirement() {
        let catalog = Catalog::shipped().unwrap();
        for n in 1..=25 {
            let id = format!("HL-{n:02}");
            assert!(catalog.contains(&id), "{id} missing from the catalog");
        }
        assert!(catalog.vectors.iter().any(|v| v.key == "fake-ssh-public-key"));
    }

    #[test]
    fn the_shipped_vectors_match_the_derivation() {
        for v in Catalog::shipped().unwrap().vectors {
            let id = hwa_core::id::RequestId::derive(v.key.as_bytes());
            assert_eq!(id.to_string(), v.id, "vector for key {:?}", v.key);
        }
    }

    #[test]
    fn a_duplicate_requirement_is_refused() {
        let text = "[[requirement]]\nid='X'\ntitle='t'\nchecks='c'\nfailure='f'\n".repeat(2);
        assert!(matches!(Catalog::load(&text), Err(CatalogError::Duplicate(id)) if id == "X"));
    }

    #[test]
    fn a_skip_without_reason_or_for_an_unknown_case_is_refused() {
        let known = cases(&["a"]);
        let no_reason = "[[skip]]\ncase='a'\n";
        assert!(matches!(
            SkipList::load(no_reason, &known),
            Err(CatalogError::SkipWithoutReason(_))
        ));
        let unknown = "[[skip]]\ncase='b'\nreason='r'\n";
        assert!(matches!(SkipList::load(unknown, &known), Err(CatalogError::UnknownSkip(_))));
        let bad_target = "[[skip]]\ncase='a'\ntarget='moon'\nreason='r'\n";
        assert!(matches!(
            SkipList::load(bad_target, &known),
            Err(CatalogError::UnknownTarget { .. })
        ));
    }

    #[test]
    fn a_skip_applies_to_its_target_only() {
        let list =
            SkipList::load("[[skip]]\ncase='a'\ntarget='live'\nreason='r'\n", &cases(&["a"]))
                .unwrap();
        assert_eq!(list.reason("a", "live"), Some("r"));
        assert_eq!(list.reason("a", "sim"), None);
    }
}
