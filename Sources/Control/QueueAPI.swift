import Foundation

extension ControlRoute {
    /// `GET /v1/queue[?rig=R]`: each rig's queue, or one rig's.
    public static let queues = ControlRoute(.get, "/v1/queue", errors: [404, 500])
    /// `POST /v1/queue`: put a protocol at the end of a rig's queue.
    public static let enqueue = ControlRoute(.post, "/v1/queue", success: 201, errors: [400, 404, 500])
    /// `DELETE /v1/queue/{id}`: take a waiting entry out of its queue.
    public static let dequeue = ControlRoute(.delete, "/v1/queue/{id}", errors: [400, 404, 409, 500])
    /// `POST /v1/queue/release`: let a held queue go on.
    public static let releaseQueue = ControlRoute(.post, "/v1/queue/release", errors: [400, 404, 409, 500])

    /// Query parameter of ``queues``: only this rig's queue.
    public static let rigParameter = "rig"
}

extension ControlRequest where Reply == [RigQueueInfo] {
    /// Every rig's queue, or `rig`'s.
    public static func queues(rig: String? = nil) -> Self {
        guard let rig else { return Self(.queues) }
        let encoded = rig.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? rig
        return Self(.queues, path: "\(ControlRoute.queues.template)?\(ControlRoute.rigParameter)=\(encoded)")
    }
}

extension ControlRequest where Reply == QueueEntryInfo {
    public static func enqueue(_ request: QueueAddRequest) throws -> Self {
        Self(.enqueue, body: try JSONEncoder().encode(request))
    }

    public static func dequeue(_ entryID: Int64) -> Self {
        Self(.dequeue, path: ControlRoute.dequeue.path(id: entryID))
    }
}

extension ControlRequest where Reply == RigQueueInfo {
    public static func releaseQueue(rig: String) throws -> Self {
        Self(.releaseQueue, body: try JSONEncoder().encode(QueueReleaseRequest(rig: rig)))
    }
}

/// `POST /v1/queue`: put a protocol at the end of a rig's queue. The same fields as a start request, plus the
/// operator's choice of what the queue does after this run (`then`: `continue` or `hold`; absent: the protocol's
/// `then:`, whose default is `hold`).
public struct QueueAddRequest: Sendable, Hashable, Codable {
    public var protocol_file: String
    public var protocol_text: String
    public var rig: String
    public var cell_label: String?
    public var area_cm2: Double?
    public var parameters: [String: String]
    public var then: String?

    public init(
        protocol_file: String, protocol_text: String, rig: String, cell_label: String? = nil, area_cm2: Double? = nil,
        parameters: [String: String] = [:], then: String? = nil
    ) {
        self.protocol_file = protocol_file
        self.protocol_text = protocol_text
        self.rig = rig
        self.cell_label = cell_label
        self.area_cm2 = area_cm2
        self.parameters = parameters
        self.then = then
    }

    private enum CodingKeys: String, CodingKey {
        case protocol_file, protocol_text, rig, cell_label, area_cm2, parameters, then
    }

    /// Reads a queue entry; `parameters` may be left out (none).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        protocol_file = try container.decode(String.self, forKey: .protocol_file)
        protocol_text = try container.decode(String.self, forKey: .protocol_text)
        rig = try container.decode(String.self, forKey: .rig)
        cell_label = try container.decodeIfPresent(String.self, forKey: .cell_label)
        area_cm2 = try container.decodeIfPresent(Double.self, forKey: .area_cm2)
        parameters = try container.decodeIfPresent([String: String].self, forKey: .parameters) ?? [:]
        then = try container.decodeIfPresent(String.self, forKey: .then)
    }

    /// The start request the queue sends when the entry's turn comes.
    public var startRequest: StartRunRequest {
        StartRunRequest(
            protocol_file: protocol_file, protocol_text: protocol_text, rig: rig, cell_label: cell_label,
            area_cm2: area_cm2, parameters: parameters)
    }
}

/// `POST /v1/queue/release`: let a held queue go on.
public struct QueueReleaseRequest: Sendable, Hashable, Codable {
    public var rig: String

    public init(rig: String) {
        self.rig = rig
    }
}

/// One entry of a rig's queue: waiting for its turn, or started and running.
public struct QueueEntryInfo: Sendable, Hashable, Codable {
    public var id: Int64
    public var rig: String
    public var protocol_name: String
    public var protocol_file: String
    public var parameters: [String: String]
    public var cell_label: String?
    public var area_cm2: Double?
    /// What the queue does after this entry's run: `continue` or `hold`.
    public var then: String
    public var added_at: String
    /// `waiting`, or `running` once started (its run is `run_id`).
    public var state: String
    public var run_id: Int64?

    public init(
        id: Int64, rig: String, protocol_name: String, protocol_file: String, parameters: [String: String],
        cell_label: String?, area_cm2: Double?, then: String, added_at: String, state: String, run_id: Int64?
    ) {
        self.id = id
        self.rig = rig
        self.protocol_name = protocol_name
        self.protocol_file = protocol_file
        self.parameters = parameters
        self.cell_label = cell_label
        self.area_cm2 = area_cm2
        self.then = then
        self.added_at = added_at
        self.state = state
        self.run_id = run_id
    }
}

/// `GET /v1/queue`: one rig's queue, its entries in the order they will run, and why it is held, if it is.
public struct RigQueueInfo: Sendable, Hashable, Codable {
    public var rig: String
    public var held: Bool
    /// Why the queue waits for `cellrig queue release` (a run that ended stopped or faulted, an entry that could
    /// not start).
    public var hold_reason: String?
    /// The run whose end held the queue, when one did.
    public var held_by_run: Int64?
    public var held_at: String?
    public var entries: [QueueEntryInfo]

    public init(
        rig: String, held: Bool, hold_reason: String? = nil, held_by_run: Int64? = nil, held_at: String? = nil,
        entries: [QueueEntryInfo]
    ) {
        self.rig = rig
        self.held = held
        self.hold_reason = hold_reason
        self.held_by_run = held_by_run
        self.held_at = held_at
        self.entries = entries
    }
}
