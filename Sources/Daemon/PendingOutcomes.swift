import Domain
import Synchronization

/// Outcomes of runs that ended while the database could not take them (a full disk): the API reports them from here
/// until they are recorded, so a run that faulted never shows as running.
final class PendingOutcomes: Sendable {
    private let outcomes = Mutex<[Int64: RunOutcome]>([:])

    subscript(runID: Int64) -> RunOutcome? {
        outcomes.withLock { $0[runID] }
    }

    func keep(_ outcome: RunOutcome, runID: Int64) {
        outcomes.withLock { $0[runID] = outcome }
    }
}
