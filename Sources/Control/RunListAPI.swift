import Foundation

/// One run in `GET /v1/runs`: who, what, how it stands; the whole record is `GET /v1/runs/{id}`.
public struct RunSummary: Sendable, Hashable, Codable {
    public var id: Int64
    public var state: String
    public var protocol_name: String
    public var protocol_file: String
    public var rig: String
    public var cell_label: String?
    public var created_at: String
    public var ended_at: String?
    public var reason: String?
    public var ccd_mA_cm2: Double?
    /// Samples stored.
    public var samples: Int

    public init(
        id: Int64, state: String, protocol_name: String, protocol_file: String, rig: String, cell_label: String?,
        created_at: String, ended_at: String?, reason: String?, ccd_mA_cm2: Double?, samples: Int
    ) {
        self.id = id
        self.state = state
        self.protocol_name = protocol_name
        self.protocol_file = protocol_file
        self.rig = rig
        self.cell_label = cell_label
        self.created_at = created_at
        self.ended_at = ended_at
        self.reason = reason
        self.ccd_mA_cm2 = ccd_mA_cm2
        self.samples = samples
    }
}

/// `GET /v1/runs?limit=N&before=ID`: a page of runs, newest first, and where the next page starts.
public struct RunPage: Sendable, Hashable, Codable {
    public var runs: [RunSummary]
    /// Give this as `before` for the next (older) page; absent on the last page.
    public var next_before: Int64?

    public init(runs: [RunSummary], next_before: Int64?) {
        self.runs = runs
        self.next_before = next_before
    }
}

extension ControlRoute {
    /// Query parameters of ``runs``: how many runs a page holds (``runPageSizes``, default 50), and the id the
    /// page's runs are older than.
    public static let limitParameter = "limit"
    public static let beforeParameter = "before"
    public static let runPageSizes = 1...1000
    public static let defaultRunPageSize = 50
}

extension ControlRequest where Reply == RunPage {
    /// A page of runs, newest first: at most `limit`, older than run `before`.
    public static func runs(limit: Int? = nil, before: Int64? = nil) -> Self {
        var query: [String] = []
        if let limit { query.append("\(ControlRoute.limitParameter)=\(limit)") }
        if let before { query.append("\(ControlRoute.beforeParameter)=\(before)") }
        let path = ControlRoute.runs.template + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        return Self(.runs, path: path)
    }
}
