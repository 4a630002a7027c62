import Control
import Domain
import Foundation
import Logging
import ProtocolFiles
import Storage
import Synchronization
import TestSupport
import Testing

@testable import Daemon

#if canImport(Glibc)
    import Glibc
#endif

/// A tiny HTTP receiver on 127.0.0.1 for webhook tests: answers the first `failures` requests with 503, later ones
/// with 200, and keeps the bodies it accepted.
final class WebhookReceiver: Sendable {
    let port: Int
    private let listener: Int32
    private let state: Mutex<(requests: Int, accepted: [String])>
    private let failures: Int

    init(failures: Int = 0) throws {
        self.failures = failures
        state = Mutex((0, []))
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(listener, raw, length) == 0 && listen(listener, 16) == 0
                    && getsockname(listener, raw, &length) == 0
            }
        }
        guard bound else { throw CancellationError() }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    var accepted: [String] { state.withLock { $0.accepted } }
    var requests: Int { state.withLock { $0.requests } }

    func notifications() throws -> [RunNotification] {
        try accepted.map { try JSONDecoder().decode(RunNotification.self, from: Data($0.utf8)) }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func serve() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            handle(connection)
            close(connection)
        }
    }

    private func handle(_ connection: Int32) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var expected: Int?
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return }
            received += buffer[..<count]
            let text = String(decoding: received, as: UTF8.self)
            guard let end = text.range(of: "\r\n\r\n") else { continue }
            if expected == nil {
                let length = text[..<end.lowerBound].split(separator: "\r\n")
                    .first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }
                expected = text.utf8.distance(from: text.startIndex, to: end.upperBound) + (length ?? 0)
            }
            guard received.count >= expected ?? 0 else { continue }
            let body = String(text[end.upperBound...])
            let fail = state.withLock { state in
                state.requests += 1
                guard state.requests > failures else { return true }
                state.accepted.append(body)
                return false
            }
            let answer =
                fail
                ? "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                : "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
            _ = answer.withCString { send(connection, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            return
        }
    }
}

extension RunningDaemon {
    /// A daemon in this process with a configuration of the test's own.
    static func start(configuration: DaemonConfiguration, directory: URL) async throws -> RunningDaemon {
        let daemon = try CellRigDaemon(configuration: configuration, logger: Logger(label: "test"))
        let task = Task { try await daemon.run(signals: []) }
        let client = ControlClient(socketPath: configuration.socketPath)
        let up = try await TestSupport.eventually {
            (try? await TestSupport.onThread { try client.request("GET", "/v1/health", as: HealthInfo.self) }) != nil
        }
        #expect(up, "the daemon's socket answers")
        return RunningDaemon(daemon: daemon, task: task, client: client, directory: directory)
    }
}

@Suite("Notifications", .serialized)
struct NotifyTests {
    static func daemon(notify: NotifySettings) async throws -> RunningDaemon {
        let directory = try TestSupport.scratchDirectory()
        var configuration = DaemonConfiguration(
            socketPath: directory.appendingPathComponent("d.sock").path,
            databasePath: directory.appendingPathComponent("cellrig.sqlite").path, rigs: [try ohmicSimulatedRig()])
        configuration.notify = notify
        return try await RunningDaemon.start(configuration: configuration, directory: directory)
    }

    @Test("a webhook receiver gets the stop notification of a shorted run with run id, rig, CCD and reason")
    func stopNotification() async throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        let webhook = NotifySettings.Webhook(host: "127.0.0.1", port: receiver.port, path: "/hook?lab=2")
        let running = try await Self.daemon(notify: NotifySettings(webhook: webhook, retryDelay_s: 0.05))
        let started = try await running.startRun(
            text: QueueProtocols.shorting("ccd"), file: "ccd.yaml", rig: "sim-ohmic")
        let final = try await running.waitForEnd(started.id)
        #expect(final.state == "stopped")
        let arrived = try await TestSupport.eventually {
            try receiver.notifications().contains { $0.kind == "run-ended" }
        }
        #expect(arrived, "the receiver got the run's end")
        let notification = try #require(try receiver.notifications().first { $0.kind == "run-ended" })
        #expect(notification.run_id == started.id)
        #expect(notification.rig == "sim-ohmic")
        #expect(notification.protocol_name == "ccd")
        #expect(notification.state == "stopped")
        let ccd = try #require(notification.ccd_mA_cm2)
        #expect(abs(ccd - 4.8) <= 0.3, "the rig's cell shorts at 4.8 mA/cm2; notified \(ccd)")
        #expect(notification.reason == final.reason && !notification.reason.isEmpty)
        #expect(["dendrite-short", "hard-short"].contains(notification.verdict?.criterion ?? ""))
        await running.stop()
    }

    @Test("a receiver that fails twice, then accepts, gets the notification once")
    func retries() async throws {
        let receiver = try WebhookReceiver(failures: 2)
        defer { receiver.stop() }
        let webhook = NotifySettings.Webhook(host: "127.0.0.1", port: receiver.port, path: "/")
        let running = try await Self.daemon(notify: NotifySettings(webhook: webhook, retries: 3, retryDelay_s: 0.05))
        let started = try await running.startRun(
            text: QueueProtocols.completing("short-and-sweet"), file: "s.yaml", rig: "sim-ohmic")
        _ = try await running.waitForEnd(started.id)
        let arrived = try await TestSupport.eventually { receiver.accepted.count == 1 }
        #expect(arrived)
        try await Task.sleep(for: .milliseconds(300))
        #expect(receiver.requests == 3, "two refusals and one acceptance")
        #expect(try receiver.notifications().map(\.run_id) == [started.id])
        let counts = try #require(running.daemon.notifier?.counts)
        #expect(counts.delivered == 1 && counts.failedAttempts == 2 && counts.abandoned == 0)
        await running.stop()
    }

    @Test("a full queue drops its oldest notification and counts it; submitting never waits for the receiver")
    func boundedQueue() async throws {
        // Nothing listens on this port: every delivery fails, slowly enough that the queue fills.
        let settings = NotifySettings(
            webhook: .init(host: "127.0.0.1", port: 9, path: "/"), minimumInterval_s: 0, retries: 100,
            retryDelay_s: 10, queueSize: 3)
        let store = try RunStore(path: try TestSupport.scratchDirectory().appendingPathComponent("n.sqlite").path)
        let notifier = Notifier(settings: settings, store: store, logger: Logger(label: "test"))
        let event = EventInfo(runID: 1, RunEvent(kind: .fault, time_s: 1, message: "gone"))
        for runID in 1...10 { notifier.submit(.event(event), runID: Int64(runID)) }
        #expect(notifier.counts.dropped == 7)
        // Throttling: the same kind for the same run within the interval is dropped too.
        let throttled = Notifier(
            settings: NotifySettings(webhook: settings.webhook, minimumInterval_s: 3600), store: store,
            logger: Logger(label: "test"))
        for _ in 0..<5 { throttled.submit(.event(event), runID: 1) }
        #expect(throttled.counts.throttled == 4)
    }

    @Test("the notify section: webhook and command, with errors that name the line and what is allowed")
    func section() throws {
        let settings = try #require(
            try DaemonConfigFile.parse(
                """
                schema: 1
                notify:
                  webhook: http://alerts.lab.example:8080/cellrig
                  command: [/usr/bin/mail, -s, cellrig, ops@lab.example]
                  events: [run-ended, fault]
                  minimum_interval: 5 min
                  retries: 3
                """, file: "cellrigd.yaml", defaultUser: "cellrig"
            ).notify)
        #expect(settings.webhook == .init(host: "alerts.lab.example", port: 8080, path: "/cellrig"))
        #expect(settings.command == .arguments(["/usr/bin/mail", "-s", "cellrig", "ops@lab.example"]))
        #expect(settings.events == [.runEnded, .fault])
        #expect(settings.minimumInterval_s == 300 && settings.retries == 3)
        #expect(throws: FileError.self) {
            _ = try DaemonConfigFile.parse(
                "schema: 1\nnotify:\n  webhook: https://hooks.example/x\n", file: "c.yaml", defaultUser: "cellrig")
        }
        do {
            _ = try DaemonConfigFile.parse(
                "schema: 1\nnotify:\n  events: [run-ended]\n", file: "c.yaml", defaultUser: "cellrig")
            Issue.record("a notify section without a target is refused")
        } catch {
            #expect(error.description.contains("c.yaml") && error.description.contains("webhook"))
        }
        do {
            _ = try DaemonConfigFile.parse(
                "schema: 1\nnotify:\n  webhook: https://hooks.example/x\n", file: "c.yaml", defaultUser: "cellrig")
        } catch {
            #expect(error.description.contains("c.yaml:3") && error.description.contains("curl"), "\(error)")
        }
    }
}
