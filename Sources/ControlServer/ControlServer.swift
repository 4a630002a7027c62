import Control
import Foundation
import Hummingbird
import HummingbirdCore
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// A failure the control API reports to its caller with an HTTP status and a message for a person.
public struct ControlFailure: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var message: String

    public init(status: Int, _ message: String) {
        self.status = status
        self.message = message
    }

    public static func badRequest(_ message: String) -> ControlFailure { ControlFailure(status: 400, message) }
    public static func notFound(_ message: String) -> ControlFailure { ControlFailure(status: 404, message) }
    public static func conflict(_ message: String) -> ControlFailure { ControlFailure(status: 409, message) }

    public var description: String { message }
}

/// What the control server asks of the daemon; the daemon implements it, tests may too.
public protocol ControlBackend: Sendable {
    func health() async -> HealthInfo
    func rigs() async -> [RigInfo]
    /// A page of runs, newest first: at most `limit`, older than run `before` (all when nil).
    func runs(limit: Int, before: Int64?) async throws -> RunPage
    func startRun(_ request: StartRunRequest) async throws -> RunStatus
    func status(runID: Int64) async throws -> RunStatus
    func abort(runID: Int64) async throws -> RunStatus
    /// Continues a run a guard paused: the step's current is applied again.
    func resume(runID: Int64) async throws -> RunStatus
    /// Live messages of a run; ends after `.end`.
    func live(runID: Int64) async throws -> AsyncStream<LiveMessage>
    /// The run's report as one self-contained HTML page. With `refreshSeconds`, a page of a run that is still
    /// going asks the browser to load it again after that many seconds.
    func report(runID: Int64, refreshSeconds: Int?) async throws -> String
    /// How far the copy in the lab's central database is behind (`GET /v1/sync`).
    func sync() async throws -> SyncStatusInfo
    /// The queues of every rig, or of one (`GET /v1/queue`).
    func queues(rig: String?) async throws -> [RigQueueInfo]
    /// Puts a protocol at the end of a rig's queue; it starts at once when the rig is free (`POST /v1/queue`).
    func enqueue(_ request: QueueAddRequest) async throws -> QueueEntryInfo
    /// Takes a waiting entry out of its queue; answers the entry (`DELETE /v1/queue/{id}`).
    func dequeue(entryID: Int64) async throws -> QueueEntryInfo
    /// Lets a held queue go on; answers the rig's queue (`POST /v1/queue/release`).
    func releaseQueue(rig: String) async throws -> RigQueueInfo
}

extension ControlBackend {
    /// A backend without fleet sync.
    public func sync() async throws -> SyncStatusInfo { SyncStatusInfo(configured: false) }
}

/// Builds the HTTP+JSON control server on a Unix domain socket (`/v1/...`).
public enum ControlServer {
    /// Largest request body accepted (a protocol file plus a little).
    static let maximumBodySize = 1 << 20

    /// The server as a service for a `ServiceGroup`. The socket file gets mode `socketMode` once bound, and
    /// `onReady` runs then (the daemon tells systemd it is ready).
    public static func application(
        backend: any ControlBackend, socketPath: String, socketMode: UInt32 = 0o660,
        limits: ControlServerLimits = .init(), logger: Logger, onReady: @escaping @Sendable () async -> Void = {}
    ) -> some ApplicationProtocol {
        Application(
            responder: ControlResponder(handlers: handlers(backend).merging(queueHandlers(backend)) { $1 }),
            server: .http1(configuration: .init(idleTimeout: .nanoseconds(limits.idleTimeout.nanoseconds))),
            configuration: .init(
                address: .unixDomainSocket(path: socketPath), serverName: "cellrigd", backlog: limits.backlog,
                availableConnectionsDelegate: MaximumAvailableConnections(limits.maximumConnections, logger: logger)),
            onServerRunning: { _ in
                chmod(socketPath, mode_t(socketMode))
                await onReady()
            }, logger: logger)
    }

    /// One handler for each of ``ControlRoute/all``.
    static func handlers(_ backend: any ControlBackend) -> [ControlRoute: ControlResponder.Handler] {
        [
            .health: { _ in try ControlResponder.json(await backend.health()) },
            .rigs: { _ in try ControlResponder.json(await backend.rigs()) },
            .runs: { call in
                let (limit, before) = try call.runPage()
                return try ControlResponder.json(try await backend.runs(limit: limit, before: before))
            },
            .startRun: { call in
                var request = call.request
                let body: ByteBuffer
                do {
                    body = try await request.collectBody(upTo: maximumBodySize)
                } catch {
                    throw ControlFailure.badRequest(
                        "the request body is larger than \(maximumBodySize / 1024) KiB; send the protocol file's text")
                }
                let start = try RequestBodyDecoding.decode(
                    StartRunRequest.self, from: Data(body.readableBytesView), describedAs: "a start request")
                return try ControlResponder.json(try await backend.startRun(start), status: .created)
            },
            .status: { call in try ControlResponder.json(try await backend.status(runID: try call.runID())) },
            .abort: { call in try ControlResponder.json(try await backend.abort(runID: try call.runID())) },
            .resume: { call in try ControlResponder.json(try await backend.resume(runID: try call.runID())) },
            .live: { call in try await live(backend.live(runID: try call.runID())) },
            .sync: { _ in try ControlResponder.json(try await backend.sync()) },
            .report: { call in
                let runID = try call.runID()
                let refresh = try call.refreshSeconds()
                return ControlResponder.html(try await backend.report(runID: runID, refreshSeconds: refresh))
            },
        ]
    }

    /// A live stream as server-sent events, one per message, until the backend's stream ends.
    private static func live(_ stream: AsyncStream<LiveMessage>) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = ControlRoute.Reply.eventStream.rawValue
        headers[.cacheControl] = "no-cache"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                for await message in stream {
                    // One message that cannot be encoded never ends the stream: it becomes an `error` event.
                    let text: String
                    do {
                        text = try eventText(message)
                    } catch {
                        text = serverSentEvent(
                            name: LiveEventName.error, data: #"{"error":"a live message could not be encoded"}"#)
                    }
                    try await writer.write(ByteBuffer(string: text))
                }
                try await writer.finish(nil)
            })
    }

    static func eventText(_ message: LiveMessage) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        switch message {
        case .progress(let progress):
            return serverSentEvent(
                name: LiveEventName.progress, data: String(decoding: try encoder.encode(progress), as: UTF8.self))
        case .event(let event):
            return serverSentEvent(
                name: LiveEventName.event, data: String(decoding: try encoder.encode(event), as: UTF8.self))
        case .end(let status):
            return serverSentEvent(
                name: LiveEventName.end, data: String(decoding: try encoder.encode(status), as: UTF8.self))
        case .disconnected(let reason):
            return serverSentEvent(
                name: LiveEventName.disconnected,
                data: String(decoding: try encoder.encode(ErrorBody(error: reason)), as: UTF8.self))
        }
    }
}
