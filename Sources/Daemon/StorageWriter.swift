import Domain
import Storage
import Synchronization

/// Writes one run's batches to SQLite in the background, in order, so the run loop never waits for the disk.
///
/// The loop hands over a batch and goes on with the next samples; one consumer task writes the batches one
/// transaction each, on the database's writer queue. At most ``maximumQueued`` batches wait: a loop faster than
/// the disk then waits for room (back-pressure), so memory stays bounded. A failed write is kept as
/// ``failure`` (with its cause in words) for the loop to act on; later batches are still attempted, so a
/// passing fault costs only what it must. ``storedSamples`` counts samples on disk, never samples in flight.
final class StorageWriter: Sendable {
    /// What went wrong while writing, for the run's end reason.
    struct Failure: Sendable, CustomStringConvertible {
        var description: String
        /// Whether anything at all could be written (false for a full disk or a read-only file).
        var nothingWritten: Bool
    }

    private struct State {
        var queued = 0
        var storedSamples = 0
        var failure: Failure?
        var roomWaiters: [CheckedContinuation<Void, Never>] = []
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// The state the loop and the consumer task share.
    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    static let maximumQueued = 4

    private let shared = Shared()
    private let batches: AsyncStream<RunRecordBatch>.Continuation

    /// A writer for run `runID`, which already has `alreadyStored` samples on disk (a resumed run).
    init(store: RunStore, runID: Int64, alreadyStored: Int = 0) {
        let (stream, continuation) = AsyncStream.makeStream(of: RunRecordBatch.self)
        batches = continuation
        let shared = self.shared
        shared.state.withLock { $0.storedSamples = alreadyStored }
        Task {
            // Batches a failed write (a full disk) left unwritten, oldest first: later batches wait behind them, so
            // the stored samples never have a gap; each new batch tries them again first.
            var unwritten: [RunRecordBatch] = []
            for await batch in stream {
                var failure: Failure?
                var stored = 0
                unwritten.append(batch)
                while let next = unwritten.first {
                    do {
                        let outcome = try await store.append(next, runID: runID)
                        unwritten.removeFirst()
                        stored += outcome.storedSamples
                        if !outcome.rejected.isEmpty {
                            let shown = outcome.rejected.prefix(3).map(\.description).joined(separator: "; ")
                            failure = Failure(
                                description: "storage refused \(outcome.rejected.count) of the batch's rows (the "
                                    + "others are stored): \(shown)", nothingWritten: false)
                        }
                    } catch {
                        let waiting = unwritten.map(\.samples.count).reduce(0, +)
                        failure = Failure(
                            description: "\(error) (\(waiting) samples wait in memory to be written)",
                            nothingWritten: true)
                        break
                    }
                }
                let waiters = shared.state.withLock { state in
                    state.queued -= 1
                    state.storedSamples += stored
                    if state.failure == nil, let failure { state.failure = failure }
                    var resumed = state.roomWaiters
                    state.roomWaiters = []
                    if state.queued == 0 {
                        resumed += state.drainWaiters
                        state.drainWaiters = []
                    }
                    return resumed
                }
                for waiter in waiters { waiter.resume() }
            }
        }
    }

    deinit {
        batches.finish()
    }

    /// Samples on disk so far.
    var storedSamples: Int { shared.state.withLock { $0.storedSamples } }

    /// The first write that failed, if any.
    var failure: Failure? { shared.state.withLock { $0.failure } }

    /// Queues `batch` for writing; waits only while ``maximumQueued`` batches are already waiting.
    func submit(_ batch: RunRecordBatch) async {
        guard !batch.isEmpty else { return }
        while !admit() {
            await withCheckedContinuation { continuation in
                let mustWait = shared.state.withLock { state -> Bool in
                    guard state.queued >= Self.maximumQueued else { return false }
                    state.roomWaiters.append(continuation)
                    return true
                }
                if !mustWait { continuation.resume() }
            }
        }
        batches.yield(batch)
    }

    /// Takes a place in the queue, if there is one.
    private func admit() -> Bool {
        shared.state.withLock { state in
            guard state.queued < Self.maximumQueued else { return false }
            state.queued += 1
            return true
        }
    }

    /// Waits until every queued batch is written (or has failed).
    func drain() async {
        await withCheckedContinuation { continuation in
            let done = shared.state.withLock { state -> Bool in
                guard state.queued > 0 else { return true }
                state.drainWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Ends the consumer task once the queue is empty; nothing may be submitted afterwards.
    func close() {
        batches.finish()
    }
}
