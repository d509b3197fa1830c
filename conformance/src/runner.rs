//! The runner: which cases exist on which target, validation of their requirement IDs and of
//! the skip list, running them, and the report.
//!
//! A case is either a shared case ([`crate::cases`], written once, run on `sim` and `live`) or
//! a simulator scenario ([`hwa_sim::scenarios::ALL`], run on `sim` only: races, adversaries and
//! invariants need the simulator's scheduler).

use std::collections::BTreeSet;
use std::time::Instant;

use crate::catalog::{Catalog, CatalogError, SkipList};
use crate::plan::Case;
use crate::report::{CaseResult, Outcome, RunReport};

/// The targets, in the order `--target all` runs them.
pub const TARGETS: &[&str] = &["sim", "live"];

/// Prefix of the names of simulator scenarios run as cases.
pub const SCENARIO_PREFIX: &str = "scenario_";

/// One runnable case.
#[derive(Debug, Clone, Copy)]
pub enum Runnable {
    Shared(&'static Case),
    Scenario(&'static hwa_sim::harness::Scenario),
}

impl Runnable {
    pub fn name(&self) -> String {
        match self {
            Runnable::Shared(c) => c.name.to_owned(),
            Runnable::Scenario(s) => format!("{SCENARIO_PREFIX}{}", s.name),
        }
    }

    pub fn requirements(&self) -> &'static [&'static str] {
        match self {
            Runnable::Shared(c) => c.requirements,
            Runnable::Scenario(s) => s.requirements,
        }
    }

    pub fn about(&self) -> &'static str {
        match self {
            Runnable::Shared(c) => c.about,
            Runnable::Scenario(s) => s.about,
        }
    }

    /// Whether the case runs on `target` at all (scenarios only on the simulator).
    pub fn applies_to(&self, target: &str) -> bool {
        matches!(self, Runnable::Shared(_)) || target == "sim"
    }

    fn run(&self, target: &str) -> Result<(), String> {
        match (self, target) {
            (Runnable::Shared(c), "sim") => crate::sim::run_case(c),
            (Runnable::Shared(c), "live") => crate::live::run_case(c),
            (Runnable::Scenario(s), "sim") => crate::sim::run_scenario(s),
            (_, other) => Err(format!("case does not run on target {other}")),
        }
    }
}

/// Every case the suite has.
pub fn all_cases() -> Vec<Runnable> {
    let mut cases: Vec<Runnable> = crate::cases::all().into_iter().map(Runnable::Shared).collect();
    cases.extend(hwa_sim::scenarios::ALL.iter().map(Runnable::Scenario));
    cases
}

/// Checks that every case's requirement IDs are in the catalog and names are unique.
pub fn validate(catalog: &Catalog, cases: &[Runnable]) -> Result<(), CatalogError> {
    let mut names = BTreeSet::new();
    for case in cases {
        if !names.insert(case.name()) {
            return Err(CatalogError::Parse(format!("case `{}` is defined twice", case.name())));
        }
        for id in case.requirements() {
            if !catalog.contains(id) {
                return Err(CatalogError::UnknownRequirement {
                    case: case.name(),
                    id: (*id).to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// The names of `cases`, for validating the skip list.
pub fn names(cases: &[Runnable]) -> BTreeSet<String> {
    cases.iter().map(Runnable::name).collect()
}

/// Runs `cases` on `targets`, calling `progress` with each result as it finishes.
pub fn run(
    cases: &[Runnable],
    targets: &[&str],
    skips: &SkipList,
    mut progress: impl FnMut(&CaseResult),
) -> RunReport {
    let mut report = RunReport::default();
    for target in targets {
        for case in cases.iter().filter(|c| c.applies_to(target)) {
            // Reports give each case's real running time; the runner is not simulated code.
            #[allow(clippy::disallowed_methods)]
            let started = Instant::now();
            let outcome = match skips.reason(&case.name(), target) {
                Some(reason) => Outcome::Skip { reason: reason.to_owned() },
                None => match case.run(target) {
                    Ok(()) => Outcome::Pass,
                    Err(message) => Outcome::Fail { message },
                },
            };
            let result = CaseResult {
                case: case.name(),
                target: (*target).to_owned(),
                requirements: case.requirements().iter().map(|s| s.to_string()).collect(),
                outcome,
                duration_ms: started.elapsed().as_millis() as u64,
            };
            progress(&result);
            report.results.push(result);
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_case_names_only_catalog_requirements() {
        let catalog = Catalog::shipped().unwrap();
        validate(&catalog, &all_cases()).unwrap();
    }

    #[test]
    fn the_shipped_skip_list_is_valid_against_the_cases() {
        SkipList::load(crate::catalog::SKIPS_TOML, &names(&all_cases())).unwrap();
    }

    #[test]
    fn a_case_naming_an_unknown_requirement_is_refused() {
        static BAD: Case = Case {
            name: "bad",
            about: "names an ID the catalog lacks",
            requirements: &["HL-99"],
            build: |_| {},
        };
        let catalog = Catalog::shipped().unwrap();
        let err = validate(&catalog, &[Runnable::Shared(&BAD)]).unwrap_err();
        assert!(matches!(err, CatalogError::UnknownRequirement { id, .. } if id == "HL-99"));
    }

    #[test]
    fn scenarios_run_on_the_simulator_only() {
        let scenario = all_cases().into_iter().find(|c| matches!(c, Runnable::Scenario(_)));
        let scenario = scenario.unwrap();
        assert!(scenario.applies_to("sim"));
        assert!(!scenario.applies_to("live"));
        assert!(scenario.name().starts_with(SCENARIO_PREFIX));
    }

    #[test]
    fn a_skipped_case_is_reported_with_its_reason_and_not_run() {
        static NEVER: Case = Case {
            name: "never",
            about: "would fail if run",
            requirements: &["HL-01"],
            build: |_| panic!("a skipped case was built"),
        };
        let cases = [Runnable::Shared(&NEVER)];
        let skips =
            SkipList::load("[[skip]]\ncase='never'\nreason='not here'\n", &names(&cases)).unwrap();
        let report = run(&cases, &["sim", "live"], &skips, |_| {});
        assert_eq!(report.skipped(), 2);
        assert_eq!(report.summary_line(), "0 passed, 0 failed, 2 skipped");
    }
}
