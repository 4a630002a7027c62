import Control
import Synchronization

/// Fans a run's live messages out to every client following it (`/v1/runs/{id}/live`).
///
/// Publishing never waits for a slow client. Each follower has a queue of its own: events and the end are never
/// dropped, while progress is coalesced (a follower that falls behind gets the latest position, not every one).
/// A follower whose queue of events grows beyond ``maximumPendingEvents`` is disconnected with a message saying
/// so, rather than holding memory without bound.
final class RunHub: Sendable {
    /// Most events a follower may have waiting before it is disconnected.
    static let maximumPendingEvents = 10_000

    private let followers = Mutex<[Int: LiveFollower]>([:])
    private let nextToken = Atomic<Int>(0)
    /// Called with every event and end of every run (never progress), on the publisher's task: an observer must
    /// return at once (hand the message to a task or a bounded queue of its own).
    private let observers = Mutex<[@Sendable (Int64, LiveMessage) -> Void]>([])

    /// Adds an observer of every run's events and ends (the run queue, notifications).
    func observe(_ observer: @escaping @Sendable (Int64, LiveMessage) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    func subscribe(runID: Int64) -> AsyncStream<LiveMessage> {
        let token = nextToken.add(1, ordering: .relaxed).newValue
        let follower = LiveFollower(runID: runID, maximumPendingEvents: Self.maximumPendingEvents)
        followers.withLock { $0[token] = follower }
        return AsyncStream(
            unfolding: { [weak self] in
                let message = await follower.next()
                if message == nil { _ = self?.followers.withLock { $0.removeValue(forKey: token) } }
                return message
            },
            onCancel: { [weak self] in
                follower.finish()
                _ = self?.followers.withLock { $0.removeValue(forKey: token) }
            })
    }

    func publish(_ message: LiveMessage, runID: Int64) {
        if case .progress = message {
        } else {
            for observer in observers.withLock({ $0 }) { observer(runID, message) }
        }
        let targets = followers.withLock { $0.values.filter { $0.runID == runID } }
        for follower in targets { follower.deliver(message) }
    }

    func hasSubscribers(runID: Int64) -> Bool {
        followers.withLock { $0.values.contains { $0.runID == runID } }
    }
}

/// One follower's queue of live messages: events in order and never dropped, progress coalesced to the latest.
final class LiveFollower: Sendable {
    private struct State {
        var pending: [LiveMessage] = []
        var head = 0
        var latestProgress: RunProgress?
        var finished = false
        var waiter: CheckedContinuation<LiveMessage?, Never>?
    }

    let runID: Int64
    private let maximumPendingEvents: Int
    private let state = Mutex(State())

    init(runID: Int64, maximumPendingEvents: Int) {
        self.runID = runID
        self.maximumPendingEvents = maximumPendingEvents
    }

    /// Queues `message` (or hands it to a waiting reader).
    func deliver(_ message: LiveMessage) {
        let handOver: (CheckedContinuation<LiveMessage?, Never>, LiveMessage)? = state.withLock { state in
            guard !state.finished else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                switch message {
                case .end, .disconnected: state.finished = true
                case .progress, .event: break
                }
                return (waiter, message)
            }
            switch message {
            case .progress(let progress):
                state.latestProgress = progress
            case .end, .disconnected:
                state.pending.append(message)
                state.finished = true
            case .event:
                if state.pending.count - state.head >= maximumPendingEvents {
                    state.pending = [
                        .disconnected(
                            "this follower fell \(maximumPendingEvents) events behind the run and is disconnected; "
                                + "the run goes on, and every event is in the database (cellrig status, export)")
                    ]
                    state.head = 0
                    state.latestProgress = nil
                    state.finished = true
                } else {
                    state.pending.append(message)
                }
            }
            return nil
        }
        if let (waiter, message) = handOver { waiter.resume(returning: message) }
    }

    /// The next message: queued events and the end first, then the latest progress; nil once the stream is over.
    func next() async -> LiveMessage? {
        await withCheckedContinuation { continuation in
            let ready: LiveMessage?? = state.withLock { state in
                if state.head < state.pending.count {
                    let message = state.pending[state.head]
                    state.head += 1
                    if state.head == state.pending.count {
                        state.pending.removeAll(keepingCapacity: true)
                        state.head = 0
                    }
                    return .some(message)
                }
                if let progress = state.latestProgress {
                    state.latestProgress = nil
                    return .some(.progress(progress))
                }
                if state.finished { return .some(nil) }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Ends the stream (the client went away); a waiting reader gets nil.
    func finish() {
        let waiter = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }
}
