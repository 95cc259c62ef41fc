//! The `core` scenario: the `Server` alone, in process. (Lead's file.)

use crate::report::Report;

/// Runs the scenario and adds its figures to `report`.
pub fn run(report: &mut Report, smoke: bool) {
    let _ = (report, smoke);
}
