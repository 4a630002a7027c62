import Control
import Synchronization

/// Fans a run's live messages out to every client following it (`/v1/runs/{id}/live`).
///
/// Publishing never waits for a slow client: each subscriber holds at most a bounded number of pending
/// messages and drops the oldest progress updates first.
final class RunHub: Sendable {
    private struct Subscriber {
        let runID: Int64
        let continuation: AsyncStream<LiveMessage>.Continuation
    }

    private let subscribers = Mutex<[Int: Subscriber]>([:])
    private let nextToken = Atomic<Int>(0)

    func subscribe(runID: Int64) -> AsyncStream<LiveMessage> {
        let token = nextToken.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream.makeStream(
            of: LiveMessage.self, bufferingPolicy: .bufferingNewest(1024))
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: token) }
        }
        subscribers.withLock { $0[token] = Subscriber(runID: runID, continuation: continuation) }
        return stream
    }

    func publish(_ message: LiveMessage, runID: Int64) {
        let targets = subscribers.withLock { $0.values.filter { $0.runID == runID }.map(\.continuation) }
        for continuation in targets {
            continuation.yield(message)
            if case .end = message { continuation.finish() }
        }
    }

    func hasSubscribers(runID: Int64) -> Bool {
        subscribers.withLock { $0.values.contains { $0.runID == runID } }
    }
}
