import Domain
import Logging
import Storage

extension CellRigDaemon {
    /// Records the outcomes an earlier daemon could not write to the database (a full disk), then blanks the journal.
    static func recordJournaledOutcomes(_ journal: OutcomeJournal, store: RunStore, logger: Logger) {
        guard let entries = try? journal.entries(), !entries.isEmpty else { return }
        do {
            for entry in entries {
                try store.finishRun(entry.runID, outcome: entry.outcome, discardedReadings: entry.discardedReadings)
                logger.notice("run \(entry.runID): its outcome, kept while the database could not take it, is recorded")
            }
            try journal.clear()
        } catch {
            logger.error("the outcomes kept in \(journal.path) cannot be recorded yet: \(error)")
        }
    }

    /// Continues the runs an earlier daemon left active, each on its rig, as their protocols' `on_restart` says. A
    /// run that cannot continue stays interrupted, with the reason.
    func resumeInterruptedRuns() async {
        for runID in interruptedAtStart {
            guard let run = try? store.run(id: runID) else { continue }
            guard let runner = runners[run.rigID] else {
                try? store.markInterrupted(
                    runID,
                    reason: "the daemon stopped while the run was active; its rig '\(run.rigID)' is no longer "
                        + "configured")
                continue
            }
            do {
                try await runner.restore(runID: runID, byHand: false)
            } catch {
                logger.warning("run \(runID) stays interrupted: \(error)")
                try? store.markInterrupted(
                    runID, reason: "the daemon stopped while the run was active; not resumed: \(error)")
            }
        }
    }
}
