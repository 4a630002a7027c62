import Domain
import Foundation
import Logging
import PostgresNIO
import Storage

/// One run as `cellrig fleet runs` lists it (from the `cellrig.run_summary` view).
public struct FleetRunRow: Sendable, Hashable, Codable {
    public var daemon_id: String
    public var run_id: Int64
    public var rig_id: String
    public var cell_label: String?
    public var protocol_name: String
    public var protocol_sha256: String
    public var state: String
    public var end_reason: String?
    public var stop_criterion: String?
    public var ccd_mA_cm2: Double?
    public var created_at: Date
    public var ended_at: Date?
    public var instruments: String?
}

/// Which runs to list; nil fields do not filter.
public struct FleetRunFilter: Sendable, Hashable {
    public var daemonID: String?
    public var rig: String?
    public var cell: String?
    /// A protocol name, or the start of its SHA-256.
    public var protocolNameOrHash: String?
    public var state: String?
    public var since: Date?
    public var until: Date?
    public var limit: Int

    public init(
        daemonID: String? = nil, rig: String? = nil, cell: String? = nil, protocolNameOrHash: String? = nil,
        state: String? = nil, since: Date? = nil, until: Date? = nil, limit: Int = 100
    ) {
        self.daemonID = daemonID
        self.rig = rig
        self.cell = cell
        self.protocolNameOrHash = protocolNameOrHash
        self.state = state
        self.since = since
        self.until = until
        self.limit = limit
    }
}

/// One daemon as `cellrig fleet status` shows it: what it last reported, and how long ago.
public struct FleetDaemonRow: Sendable, Hashable, Codable {
    public var daemon_id: String
    public var hostname: String
    public var software_version: String
    public var last_contact: Date
    /// Every row the daemon stored before this is in the central database.
    public var caught_up_at: Date?
    public var pending_samples: Int64
    public var pending_events: Int64
    public var pending_changes: Int64
    public var local_runs: Int
    public var active_runs: Int
    /// Runs of this daemon in the central database.
    public var central_runs: Int
    /// Seconds since the daemon last reached the central database.
    public var seconds_since_contact: Double
    /// Seconds of stored data the central database may lack: from `caught_up_at` to now.
    public var lag_s: Double?
}

/// Reads the central database for `cellrig fleet`: runs of every daemon, the daemons' lag, and a run's records
/// for an export.
public struct FleetReader: Sendable {
    public let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func runs(_ filter: FleetRunFilter) async throws -> [FleetRunRow] {
        var bindings = PostgresBindings()
        var conditions: [String] = []
        func condition(_ sql: (String) -> String, _ value: some PostgresDynamicTypeEncodable) {
            bindings.append(value)
            conditions.append(sql("$\(bindings.count)"))
        }
        if let value = filter.daemonID { condition({ "daemon_id = \($0)" }, value) }
        if let value = filter.rig { condition({ "rig_id = \($0)" }, value) }
        if let value = filter.cell { condition({ "cell_label = \($0)" }, value) }
        if let value = filter.state { condition({ "state = \($0)" }, value) }
        if let value = filter.protocolNameOrHash {
            condition({ "(protocol_name = \($0) OR protocol_sha256 LIKE \($0) || '%')" }, value)
        }
        if let value = filter.since { condition({ "created_at >= \($0)" }, value) }
        if let value = filter.until { condition({ "created_at < \($0)" }, value) }
        bindings.append(filter.limit)
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = """
            SELECT daemon_id, run_id, rig_id, cell_label, protocol_name, protocol_sha256, state, end_reason,
                stop_criterion, ccd_ma_cm2, created_at, ended_at, instruments
            FROM cellrig.run_summary \(whereClause)
            ORDER BY created_at DESC, daemon_id, run_id DESC LIMIT $\(bindings.count)
            """
        var result: [FleetRunRow] = []
        let rows = try await client.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
        for try await row in rows {
            let (daemon, run, rig, cell, name, hash, state) = try row.decode(
                (String, Int64, String, String?, String, String, String).self)
            let columns = row.makeRandomAccess()
            result.append(
                FleetRunRow(
                    daemon_id: daemon, run_id: run, rig_id: rig, cell_label: cell, protocol_name: name,
                    protocol_sha256: hash, state: state, end_reason: try columns[7].decode(String?.self),
                    stop_criterion: try columns[8].decode(String?.self),
                    ccd_mA_cm2: try columns[9].decode(Double?.self), created_at: try columns[10].decode(Date.self),
                    ended_at: try columns[11].decode(Date?.self), instruments: try columns[12].decode(String?.self)))
        }
        return result
    }

    public func daemons() async throws -> [FleetDaemonRow] {
        let rows = try await client.query(
            """
            SELECT d.daemon_id, d.hostname, d.software_version, d.last_contact, d.caught_up_at, d.pending_samples,
                d.pending_events, d.pending_changes, d.local_runs, d.active_runs,
                (SELECT COUNT(*) FROM cellrig.runs r WHERE r.daemon_id = d.daemon_id)::integer,
                EXTRACT(EPOCH FROM now() - d.last_contact)::double precision,
                EXTRACT(EPOCH FROM now() - d.caught_up_at)::double precision
            FROM cellrig.daemons d ORDER BY d.daemon_id
            """, logger: logger)
        var result: [FleetDaemonRow] = []
        for try await row in rows {
            let columns = row.makeRandomAccess()
            result.append(
                FleetDaemonRow(
                    daemon_id: try columns[0].decode(String.self), hostname: try columns[1].decode(String.self),
                    software_version: try columns[2].decode(String.self),
                    last_contact: try columns[3].decode(Date.self), caught_up_at: try columns[4].decode(Date?.self),
                    pending_samples: try columns[5].decode(Int64.self),
                    pending_events: try columns[6].decode(Int64.self),
                    pending_changes: try columns[7].decode(Int64.self), local_runs: try columns[8].decode(Int.self),
                    active_runs: try columns[9].decode(Int.self), central_runs: try columns[10].decode(Int.self),
                    seconds_since_contact: try columns[11].decode(Double.self),
                    lag_s: try columns[12].decode(Double?.self)))
        }
        return result
    }

    /// One daemon's runs in the central database, read as an export reads a local database.
    public func records(of daemonID: String) -> FleetRunRecords {
        FleetRunRecords(client: client, daemonID: daemonID, logger: logger)
    }
}

/// A daemon's runs in the central database as a ``RunRecordSource``: `cellrig fleet export` writes them with the
/// same code, and so the same bytes, as `cellrig export` does from the daemon's own file.
public struct FleetRunRecords: RunRecordSource {
    let client: PostgresClient
    let daemonID: String
    let logger: Logger

    public func run(id: Int64) async throws -> StoredRun? {
        let rows = try await client.query(
            """
            SELECT run_id, state, protocol_name, protocol_file, protocol_text, protocol_sha256, rig_id, cell_label,
                area_cm2, three_electrode, software_version, created_at, ended_at, end_reason, ccd_ma_cm2,
                planned_steps, reaction_time_s, cell_off_confirmed_s, discarded_readings
            FROM cellrig.runs WHERE daemon_id = \(daemonID) AND run_id = \(id)
            """, logger: logger)
        for try await row in rows {
            let c = row.makeRandomAccess()
            return StoredRun(
                id: try c[0].decode(Int64.self), state: RunState(rawValue: try c[1].decode(String.self)) ?? .faulted,
                protocolName: try c[2].decode(String.self), protocolFile: try c[3].decode(String.self),
                protocolText: try c[4].decode(String.self), protocolSHA256: try c[5].decode(String.self),
                rigID: try c[6].decode(String.self), cellLabel: try c[7].decode(String?.self),
                area_cm2: try c[8].decode(Double.self), threeElectrode: try c[9].decode(Bool.self),
                softwareVersion: try c[10].decode(String.self), createdAt: try c[11].decode(Date.self),
                endedAt: try c[12].decode(Date?.self), endReason: try c[13].decode(String?.self),
                ccd_mA_cm2: try c[14].decode(Double?.self), plannedSteps: try c[15].decode(Int.self),
                reactionTime_s: try c[16].decode(Double?.self), cellOffConfirmed_s: try c[17].decode(Double?.self),
                discardedReadings: try c[18].decode(Int.self))
        }
        return nil
    }

    public func recordedProtocol(runID: Int64) async throws -> RecordedProtocol? {
        let rows = try await client.query(
            """
            SELECT protocol_text, protocol_file, protocol_parameters::text, cell::text
            FROM cellrig.runs WHERE daemon_id = \(daemonID) AND run_id = \(runID)
            """, logger: logger)
        for try await (text, file, parameters, cell) in rows.decode((String, String, String, String).self) {
            return try RecordedProtocol(text: text, file: file, parametersJSON: parameters, cellJSON: cell)
        }
        return nil
    }

    public func steps(runID: Int64) async throws -> [StepRecordRow] {
        let rows = try await client.query(
            """
            SELECT step_index, cycle, kind, current_a, current_density_ma_cm2, start_time_s, end_time_s, end_reason,
                charge_c
            FROM cellrig.steps WHERE daemon_id = \(daemonID) AND run_id = \(runID) ORDER BY step_index
            """, logger: logger)
        var steps: [StepRecordRow] = []
        for try await (index, cycle, kind, current, density, start, end, reason, charge) in rows.decode(
            (Int, Int, String, Double, Double, Double, Double?, String?, Double).self)
        {
            steps.append(
                StepRecordRow(
                    index: index, cycle: cycle, kind: kind, current_A: current, currentDensity_mA_cm2: density,
                    startTime_s: start, endTime_s: end, endReason: reason, charge_C: charge))
        }
        return steps
    }

    public func spectra(runID: Int64) async throws -> [StoredImpedancePoint] {
        let rows = try await client.query(
            """
            SELECT step_index, cycle, time_s, frequency_hz, z_real_ohm, z_imag_ohm
            FROM cellrig.impedance WHERE daemon_id = \(daemonID) AND run_id = \(runID) ORDER BY step_index, point
            """, logger: logger)
        var points: [StoredImpedancePoint] = []
        for try await (step, cycle, time, frequency, real, imaginary) in rows.decode(
            (Int, Int, Double, Double, Double, Double).self)
        {
            points.append(
                StoredImpedancePoint(
                    stepIndex: step, cycle: cycle,
                    point: ImpedancePoint(
                        time_s: time, frequency_Hz: frequency, real_Ohm: real, imaginary_Ohm: imaginary)))
        }
        return points
    }

    public func forEachSample(runID: Int64, _ body: (RecordedSample) throws -> Void) async throws {
        let rows = try await client.query(
            """
            SELECT seq, time_s, current_a, voltage_v, voltage_we_re_v, pressure_mpa, temperature_c, cycle,
                step_index, flags
            FROM cellrig.samples WHERE daemon_id = \(daemonID) AND run_id = \(runID) ORDER BY seq
            """, logger: logger)
        for try await (seq, time, current, voltage, weRe, pressure, temperature, cycle, step, flags) in rows.decode(
            (Int, Double, Double?, Double?, Double?, Double?, Double?, Int, Int, Int).self)
        {
            try body(
                .stored(
                    seq: seq, time_s: time, current_A: current, voltage_V: voltage, voltageWERE_V: weRe,
                    pressure_MPa: pressure, temperature_C: temperature, cycle: cycle, stepIndex: step, flags: flags))
        }
    }
}
