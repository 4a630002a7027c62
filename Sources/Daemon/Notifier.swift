import Control
import Domain
import Foundation
import Logging
import ServiceLifecycle
import Storage
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Tells people what needs them (a run's end, a fault, a pause) through the `notify:` webhook and command.
///
/// Never blocks a run: ``submit(_:runID:)`` only appends to a bounded queue (a full queue drops its oldest entry and
/// counts it), and one task of its own delivers, with retries and doubling back-off, on a thread of its own.
/// Repeated notifications of one kind for one run within `minimum_interval` are dropped and counted (a flapping
/// guard does not flood a chat); a run's end is never dropped that way.
final class Notifier: Sendable {
    /// What happened to notifications so far, for the log and tests.
    struct Counts: Sendable, Hashable {
        var delivered = 0
        /// Attempts that failed (each retry counts).
        var failedAttempts = 0
        /// Notifications given up after every retry failed.
        var abandoned = 0
        /// Dropped because the queue was full.
        var dropped = 0
        /// Dropped because the same run had the same kind of notification within `minimum_interval`.
        var throttled = 0
    }

    /// One notification waiting for delivery: the message it came from, enriched by the worker.
    private struct Pending: Sendable {
        var runID: Int64
        var message: LiveMessage
        var createdAt: Date
    }

    private struct State {
        var pending: [Pending] = []
        var head = 0
        var counts = Counts()
        var lastSent: [String: ContinuousClock.Instant] = [:]
        /// Dropped since the last delivered notification, reported in the next one.
        var droppedSinceDelivery = 0
    }

    let settings: NotifySettings
    private let store: RunStore
    private let logger: Logger
    private let state = Mutex(State())
    private let wakeUp: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let host: String

    init(settings: NotifySettings, store: RunStore, logger: Logger) {
        self.settings = settings
        self.store = store
        self.logger = logger
        (wakeUp, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        host = ProcessInfo.processInfo.hostName
        // A notify command that exits without reading its input must not end the daemon with SIGPIPE.
        if settings.command != nil { signal(SIGPIPE, SIG_IGN) }
    }

    var counts: Counts { state.withLock { $0.counts } }

    /// The kind of notification a live message makes, or nil when it makes none.
    func kind(of message: LiveMessage) -> NotifySettings.Event? {
        let kind: NotifySettings.Event
        switch message {
        case .end: kind = .runEnded
        case .event(let event) where event.kind == RunEvent.Kind.fault.rawValue: kind = .fault
        case .event(let event)
        where event.kind == RunEvent.Kind.verdict.rawValue && event.action == VerdictAction.pause.rawValue:
            kind = .pause
        default: return nil
        }
        return settings.events.contains(kind) ? kind : nil
    }

    /// Queues a notification for `message` if it makes one; returns at once.
    func submit(_ message: LiveMessage, runID: Int64) {
        guard let kind = kind(of: message) else { return }
        let now = ContinuousClock.now
        let accepted = state.withLock { state -> Bool in
            let key = "\(runID) \(kind.rawValue)"
            if kind != .runEnded, let last = state.lastSent[key],
                now - last < .seconds(settings.minimumInterval_s)
            {
                state.counts.throttled += 1
                state.droppedSinceDelivery += 1
                return false
            }
            state.lastSent[key] = now
            if kind == .runEnded {  // the run is over: forget its throttling
                state.lastSent = state.lastSent.filter { !$0.key.hasPrefix("\(runID) ") }
            }
            state.pending.append(Pending(runID: runID, message: message, createdAt: Date()))
            if state.pending.count - state.head > settings.queueSize {
                state.head += 1
                state.counts.dropped += 1
                state.droppedSinceDelivery += 1
            }
            return true
        }
        if accepted { wake.yield() }
    }

    private func next() -> (Pending, dropped: Int)? {
        state.withLock { state in
            guard state.head < state.pending.count else { return nil }
            let pending = state.pending[state.head]
            state.head += 1
            if state.head == state.pending.count {
                state.pending.removeAll(keepingCapacity: true)
                state.head = 0
            }
            let dropped = state.droppedSinceDelivery
            state.droppedSinceDelivery = 0
            return (pending, dropped)
        }
    }

    /// Delivers notifications until cancelled; on graceful shutdown, what is queued gets `drainDeadline` more.
    func run(drainDeadline: Duration = .seconds(3)) async {
        await cancelWhenGracefulShutdown {
            for await _ in self.wakeUp {
                await self.deliverQueued()
            }
        }
        // The runs a shutdown interrupted are worth telling, briefly.
        let drain = Task { await self.deliverQueued() }
        let deadline = Task {
            try await Task.sleep(for: drainDeadline)
            drain.cancel()
        }
        await drain.value
        deadline.cancel()
    }

    private func deliverQueued() async {
        while !Task.isCancelled, let (pending, dropped) = next() {
            guard let notification = document(for: pending, dropped: dropped) else { continue }
            await deliver(notification)
        }
    }

    /// The document for a queued message, with the run's rig, protocol and state from the database.
    private func document(for pending: Pending, dropped: Int) -> RunNotification? {
        guard let run = try? store.run(id: pending.runID) else { return nil }
        var notification = RunNotification(
            kind: "", run_id: pending.runID, rig: run.rigID, protocol_name: run.protocolName,
            state: run.state.rawValue, reason: "",
            created_at: pending.createdAt.formatted(.iso8601), host: host, dropped_before: dropped)
        switch pending.message {
        case .end(let status):
            notification.kind = NotifySettings.Event.runEnded.rawValue
            notification.state = status.state
            notification.reason = status.reason ?? status.state
            notification.ccd_mA_cm2 = status.ccd_mA_cm2
            notification.verdict = status.verdicts.last { $0.action == VerdictAction.stop.rawValue }
        case .event(let event):
            notification.kind = (kind(of: pending.message) ?? .fault).rawValue
            notification.reason = event.message
            notification.time_s = event.time_s
            if let criterion = event.criterion {
                notification.verdict = try? store.events(runID: pending.runID).last {
                    $0.verdict?.criterion == criterion && $0.time_s == event.time_s
                }?.verdict.map(VerdictInfo.init)
            }
        case .progress, .disconnected:
            return nil
        }
        return notification
    }

    private func deliver(_ notification: RunNotification) async {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let body = try? Array(encoder.encode(notification)) else { return }
        let settings = settings
        var targets: [(String, @Sendable () throws -> Void)] = []
        if let webhook = settings.webhook {
            targets.append(
                (
                    "webhook http://\(webhook.host):\(webhook.port)\(webhook.path)",
                    {
                        try NotificationDelivery.post(body, to: webhook, timeout_s: settings.timeout_s)
                    }
                ))
        }
        if let command = settings.command {
            targets.append(
                (
                    "notify command",
                    { try NotificationDelivery.run(command, input: body, timeout_s: settings.timeout_s) }
                ))
        }
        for (name, attempt) in targets {
            var delay = settings.retryDelay_s
            for attemptNumber in 0...settings.retries {
                do {
                    try await Self.onThread(attempt)
                    state.withLock { $0.counts.delivered += 1 }
                    break
                } catch {
                    state.withLock { $0.counts.failedAttempts += 1 }
                    guard attemptNumber < settings.retries, !Task.isCancelled else {
                        state.withLock { $0.counts.abandoned += 1 }
                        logger.error(
                            "notification of run \(notification.run_id) (\(notification.kind)) not delivered to the \(name) after \(attemptNumber + 1) attempts: \(error)"
                        )
                        break
                    }
                    logger.warning("notification to the \(name) failed, retrying in \(delay) s: \(error)")
                    try? await Task.sleep(for: .seconds(delay))
                    delay = min(delay * 2, 300)
                }
            }
        }
    }

    /// Runs blocking work on a thread of its own, so a slow receiver never holds a cooperative thread.
    private static func onThread(_ body: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Thread {
                do {
                    try body()
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }.start()
        }
    }
}

/// Delivers notifications in the daemon's service group; ends after the rigs (it is listed before them), so the
/// runs a shutdown interrupts are still told.
struct NotifyService: Service {
    let notifier: Notifier

    func run() async throws {
        await notifier.run()
    }
}
