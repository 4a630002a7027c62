import Logging
import Storage

/// What every run of the daemon uses: the database, the outcome journal beside it, the live hub, the log.
struct RunServices: Sendable {
    let store: RunStore
    let journal: OutcomeJournal
    /// Outcomes the database did not take, reported by the API until they are recorded.
    let pendingOutcomes: PendingOutcomes
    let hub: RunHub
    var logger: Logger
}
