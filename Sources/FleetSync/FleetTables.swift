import PostgresNIO
import Storage

/// How one SQLite table's rows become rows of its central table: the columns in order, each with the SQLite
/// column it comes from and its PostgreSQL type, and what a row that is already there does.
struct FleetTable: Sendable {
    /// The PostgreSQL type a value is bound as.
    enum Kind: Sendable {
        case text, integer, real, boolean, json, timestamp
    }

    struct Column: Sendable {
        var name: String
        var source: String
        var kind: Kind
    }

    var name: String
    /// The central key after `daemon_id`.
    var key: [String]
    var columns: [Column]
    /// Rows that change after they are written are updated; the others are sent once and kept.
    var updatesExisting: Bool

    init(_ name: String, key: [String], updatesExisting: Bool, _ columns: [(String, Kind)]) {
        self.name = name
        self.key = key
        self.updatesExisting = updatesExisting
        self.columns = columns.map { source, kind in
            Column(name: source == "id" ? "run_id" : source.lowercased(), source: source, kind: kind)
        }
    }

    static let runs = FleetTable(
        "runs", key: ["run_id"], updatesExisting: true,
        [
            ("id", .integer), ("state", .text), ("protocol_name", .text), ("protocol_file", .text),
            ("protocol_text", .text), ("protocol_sha256", .text), ("protocol_parameters", .json), ("rig_id", .text),
            ("rig", .json), ("cell", .json), ("cell_label", .text), ("area_cm2", .real), ("three_electrode", .boolean),
            ("plan", .json), ("planned_steps", .integer), ("software_version", .text), ("created_at", .timestamp),
            ("ended_at", .timestamp), ("end_reason", .text), ("ccd_mA_cm2", .real), ("outcome", .json),
            ("reaction_time_s", .real), ("cell_off_confirmed_s", .real), ("discarded_readings", .integer),
        ])

    static let steps = FleetTable(
        "steps", key: ["run_id", "step_index"], updatesExisting: true,
        [
            ("run_id", .integer), ("step_index", .integer), ("cycle", .integer), ("kind", .text),
            ("current_A", .real), ("current_density_mA_cm2", .real), ("start_time_s", .real), ("end_time_s", .real),
            ("end_reason", .text), ("charge_C", .real),
        ])

    static let events = FleetTable(
        "events", key: ["run_id", "seq"], updatesExisting: false,
        [
            ("run_id", .integer), ("seq", .integer), ("time_s", .real), ("recorded_at", .timestamp), ("kind", .text),
            ("step_index", .integer), ("message", .text), ("verdict", .json),
        ])

    static let impedance = FleetTable(
        "impedance", key: ["run_id", "step_index", "point"], updatesExisting: false,
        [
            ("run_id", .integer), ("step_index", .integer), ("point", .integer), ("cycle", .integer),
            ("time_s", .real), ("frequency_Hz", .real), ("z_real_Ohm", .real), ("z_imag_Ohm", .real),
        ])

    static let impedanceFits = FleetTable(
        "impedance_fits", key: ["run_id", "step_index", "circuit"], updatesExisting: true,
        [
            ("run_id", .integer), ("step_index", .integer), ("circuit", .text), ("weighting", .text),
            ("interface_element", .text), ("interface_Ohm_cm2", .real), ("interface_error_Ohm_cm2", .real),
            ("reduced_chi_square", .real), ("kk_residual_rms", .real), ("kk_consistent", .boolean),
            ("fitted_at", .timestamp), ("software_version", .text), ("result", .json),
        ])

    static let instruments = FleetTable(
        "instruments", key: ["instrument_id"], updatesExisting: false,
        [
            ("instrument_id", .integer), ("run_id", .integer), ("role", .text), ("model", .text),
            ("firmware", .text), ("serial_number", .text), ("port", .text),
        ])

    static let groundTruth = FleetTable(
        "ground_truth", key: ["run_id", "ordinal"], updatesExisting: false,
        [
            ("run_id", .integer), ("ordinal", .integer), ("kind", .text), ("time_s", .real), ("electrode", .text),
            ("current_density_mA_cm2", .real),
        ])

    /// The samples' central columns, in the order the COPY text carries them.
    static let sampleColumns = [
        "daemon_id", "run_id", "seq", "time_s", "current_a", "voltage_v", "voltage_we_re_v", "pressure_mpa",
        "temperature_c", "cycle", "step_index", "flags",
    ]

    /// Rows per INSERT statement: PostgreSQL takes at most 65,535 bound values in one.
    var rowsPerStatement: Int { max(1, 60_000 / (columns.count + 1)) }

    /// INSERT statements for `rows`, each with its bindings: `ON CONFLICT DO NOTHING` for rows sent once, an update
    /// of every column for rows that change.
    func inserts(_ rows: [SyncRow], daemonID: String) throws -> [PostgresQuery] {
        var queries: [PostgresQuery] = []
        var start = rows.startIndex
        while start < rows.endIndex {
            let end = min(start + rowsPerStatement, rows.endIndex)
            queries.append(try insert(rows[start..<end], daemonID: daemonID))
            start = end
        }
        return queries
    }

    private func insert(_ rows: ArraySlice<SyncRow>, daemonID: String) throws -> PostgresQuery {
        var bindings = PostgresBindings(capacity: rows.count * (columns.count + 1))
        var tuples: [String] = []
        tuples.reserveCapacity(rows.count)
        for row in rows {
            var placeholders: [String] = []
            bindings.append(daemonID)
            placeholders.append("$\(bindings.count)")
            for column in columns {
                try bind(row[column.source], as: column, into: &bindings)
                placeholders.append("$\(bindings.count)" + column.kind.cast)
            }
            tuples.append("(" + placeholders.joined(separator: ", ") + ")")
        }
        let names = (["daemon_id"] + columns.map(\.name)).joined(separator: ", ")
        var sql = "INSERT INTO cellrig.\(name) (\(names)) VALUES " + tuples.joined(separator: ", ")
        if updatesExisting {
            let keyColumns = Set(["daemon_id"] + key)
            let updates = columns.filter { !keyColumns.contains($0.name) }.map { "\($0.name) = excluded.\($0.name)" }
            let synced = name == "runs" ? ", synced_at = now()" : ""
            sql += " ON CONFLICT (daemon_id, \(key.joined(separator: ", "))) DO UPDATE SET "
            sql += updates.joined(separator: ", ") + synced
        } else {
            sql += " ON CONFLICT DO NOTHING"
        }
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }

    private func bind(_ value: SyncValue, as column: Column, into bindings: inout PostgresBindings) throws {
        switch (column.kind, value) {
        case (_, .null):
            bindings.appendNull()
        case (.integer, .integer(let integer)):
            bindings.append(integer)
        case (.real, .real(let real)):
            bindings.append(real)
        case (.real, .integer(let integer)):
            bindings.append(Double(integer))
        case (.boolean, .integer(let integer)):
            bindings.append(integer != 0)
        case (.text, .text(let text)), (.json, .text(let text)), (.timestamp, .text(let text)):
            bindings.append(text)
        default:
            throw FleetError.configuration(
                "\(name).\(column.source): a stored value \(value) does not fit the central column's type")
        }
    }
}

extension FleetTable.Kind {
    /// The cast a bound text needs to become the column's type.
    var cast: String {
        switch self {
        case .json: "::jsonb"
        case .timestamp: "::timestamptz"
        default: ""
        }
    }
}
