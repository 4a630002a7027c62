import Logging
import PostgresNIO

/// The central database's schema (`cellrig` in PostgreSQL): versioned migrations, applied in one transaction under
/// an advisory lock by whichever daemon (or `cellrig fleet`) first finds the database older than itself. Append a
/// migration; never edit one that has shipped. docs/fleet.md describes the tables and views.
public enum FleetSchema {
    /// One migration: its version, a name for people, and its statements (run one by one).
    struct Migration {
        var version: Int
        var name: String
        var statements: [String]
    }

    /// The newest version this cellrig knows.
    public static var currentVersion: Int { migrations.last?.version ?? 0 }

    static let migrations: [Migration] = [
        Migration(
            version: 1, name: "runs, steps, samples, events, spectra, fits, instruments, ground truth, daemons",
            statements: tablesV1 + indexesV1 + viewsV1)
    ]

    /// Brings the database to ``currentVersion``; returns the versions applied. Refuses a database newer than this
    /// cellrig, since it would not know what the newer tables mean.
    @discardableResult
    public static func migrate(_ client: PostgresClient, appliedBy: String, logger: Logger) async throws -> [Int] {
        do {
            return try await migrateInTransaction(client, appliedBy: appliedBy, logger: logger)
        } catch let error as PostgresTransactionError {
            if let refusal = error.closureError as? FleetError { throw refusal }
            throw error
        }
    }

    private static func migrateInTransaction(_ client: PostgresClient, appliedBy: String, logger: Logger)
        async throws -> [Int]
    {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                "SELECT pg_advisory_xact_lock(hashtext('cellrig fleet schema'))", logger: logger)
            try await connection.query("CREATE SCHEMA IF NOT EXISTS cellrig", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS cellrig.schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    applied_by text NOT NULL
                )
                """, logger: logger)
            var existing = 0
            for try await version in try await connection.query(
                "SELECT COALESCE(MAX(version), 0) FROM cellrig.schema_migrations", logger: logger
            ).decode(Int.self) {
                existing = version
            }
            guard existing <= currentVersion else {
                throw FleetError.schemaTooNew(found: existing, known: currentVersion)
            }
            var applied: [Int] = []
            for migration in migrations where migration.version > existing {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    """
                    INSERT INTO cellrig.schema_migrations (version, name, applied_by)
                    VALUES (\(migration.version), \(migration.name), \(appliedBy))
                    """, logger: logger)
                applied.append(migration.version)
            }
            return applied
        }
    }

    // MARK: - Version 1

    static let tablesV1 = [
        """
        CREATE TABLE cellrig.daemons (
            daemon_id text PRIMARY KEY,
            hostname text NOT NULL,
            software_version text NOT NULL,
            first_contact timestamptz NOT NULL DEFAULT now(),
            last_contact timestamptz NOT NULL DEFAULT now(),
            caught_up_at timestamptz,
            pending_samples bigint NOT NULL DEFAULT 0,
            pending_events bigint NOT NULL DEFAULT 0,
            pending_changes bigint NOT NULL DEFAULT 0,
            local_runs integer NOT NULL DEFAULT 0,
            active_runs integer NOT NULL DEFAULT 0
        )
        """,
        """
        CREATE TABLE cellrig.runs (
            daemon_id text NOT NULL,
            run_id bigint NOT NULL,
            state text NOT NULL,
            protocol_name text NOT NULL,
            protocol_file text NOT NULL,
            protocol_text text NOT NULL,
            protocol_sha256 text NOT NULL,
            protocol_parameters jsonb NOT NULL,
            rig_id text NOT NULL,
            rig jsonb NOT NULL,
            cell jsonb NOT NULL,
            cell_label text,
            area_cm2 double precision NOT NULL,
            three_electrode boolean NOT NULL,
            plan jsonb NOT NULL,
            planned_steps integer NOT NULL,
            software_version text NOT NULL,
            created_at timestamptz NOT NULL,
            ended_at timestamptz,
            end_reason text,
            ccd_ma_cm2 double precision,
            outcome jsonb,
            reaction_time_s double precision,
            cell_off_confirmed_s double precision,
            discarded_readings integer NOT NULL DEFAULT 0,
            synced_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (daemon_id, run_id)
        )
        """,
        """
        CREATE TABLE cellrig.steps (
            daemon_id text NOT NULL,
            run_id bigint NOT NULL,
            step_index integer NOT NULL,
            cycle integer NOT NULL,
            kind text NOT NULL,
            current_a double precision NOT NULL,
            current_density_ma_cm2 double precision NOT NULL,
            start_time_s double precision NOT NULL,
            end_time_s double precision,
            end_reason text,
            charge_c double precision NOT NULL,
            PRIMARY KEY (daemon_id, run_id, step_index)
        )
        """,
        """
        CREATE TABLE cellrig.samples (
            daemon_id text NOT NULL,
            run_id bigint NOT NULL,
            seq bigint NOT NULL,
            time_s double precision NOT NULL,
            current_a double precision,
            voltage_v double precision,
            voltage_we_re_v double precision,
            pressure_mpa double precision,
            temperature_c double precision,
            cycle integer NOT NULL,
            step_index integer NOT NULL,
            flags integer NOT NULL DEFAULT 0,
            PRIMARY KEY (daemon_id, run_id, seq)
        )
        """,
        """
        CREATE TABLE cellrig.events (
            daemon_id text NOT NULL,
            run_id bigint NOT NULL,
            seq bigint NOT NULL,
            time_s double precision NOT NULL,
            recorded_at timestamptz NOT NULL,
            kind text NOT NULL,
            step_index integer,
            message text NOT NULL,
            verdict jsonb,
            PRIMARY KEY (daemon_id, run_id, seq)
        )
        """,
        """
        CREATE TABLE cellrig.impedance (
            daemon_id text NOT NULL,
            run_id bigint NOT NULL,
            step_index integer NOT NULL,
            point integer NOT NULL,
            cycle integer NOT NULL,
            time_s double precision NOT NULL,
            frequency_hz double precision NOT NULL,
            z_real_ohm double precision NOT NULL,
            z_imag_ohm double precision NOT NULL,
            PRIMARY KEY (daemon_id, run_id, step_index, point)
        )
        """,
        """
        CREATE TABLE cellrig.impedance_fits (
            daemon_id text NOT NULL,
            run_id bigint NOT NULL,
            step_index integer NOT NULL,
            circuit text NOT NULL,
            weighting text NOT NULL,
            interface_element text,
            interface_ohm_cm2 double precision,
            interface_error_ohm_cm2 double precision,
            reduced_chi_square double precision NOT NULL,
            kk_residual_rms double precision NOT NULL,
            kk_consistent boolean NOT NULL,
            fitted_at timestamptz NOT NULL,
            software_version text NOT NULL,
            result jsonb NOT NULL,
            PRIMARY KEY (daemon_id, run_id, step_index, circuit)
        )
        """,
        """
        CREATE TABLE cellrig.instruments (
            daemon_id text NOT NULL,
            instrument_id bigint NOT NULL,
            run_id bigint NOT NULL,
            role text NOT NULL,
            model text NOT NULL,
            firmware text NOT NULL,
            serial_number text NOT NULL,
            port text NOT NULL,
            PRIMARY KEY (daemon_id, instrument_id)
        )
        """,
        """
        CREATE TABLE cellrig.ground_truth (
            daemon_id text NOT NULL,
            run_id bigint NOT NULL,
            ordinal integer NOT NULL,
            kind text NOT NULL,
            time_s double precision NOT NULL,
            electrode text,
            current_density_ma_cm2 double precision NOT NULL,
            PRIMARY KEY (daemon_id, run_id, ordinal)
        )
        """,
    ]

    static let indexesV1 = [
        "CREATE INDEX runs_by_cell ON cellrig.runs (cell_label, created_at)",
        "CREATE INDEX runs_by_rig ON cellrig.runs (rig_id, created_at)",
        "CREATE INDEX runs_by_protocol ON cellrig.runs (protocol_sha256, created_at)",
        "CREATE INDEX runs_by_protocol_name ON cellrig.runs (protocol_name, created_at)",
        "CREATE INDEX runs_by_date ON cellrig.runs (created_at)",
        // Samples in time order are the primary key's order (seq grows with time); one step's samples, in order:
        "CREATE INDEX samples_by_step ON cellrig.samples (daemon_id, run_id, step_index, seq)",
        "CREATE INDEX steps_by_kind ON cellrig.steps (kind, daemon_id, run_id)",
        "CREATE INDEX instruments_by_run ON cellrig.instruments (daemon_id, run_id)",
        "CREATE INDEX instruments_by_serial ON cellrig.instruments (model, serial_number)",
    ]

    static let viewsV1 = [
        // One row per run: what ran on which cell, what it found, and with which instruments.
        """
        CREATE VIEW cellrig.run_summary AS
        SELECT r.daemon_id, r.run_id, r.rig_id, r.cell_label,
            r.cell ->> 'metal' AS metal, r.cell ->> 'electrolyte' AS electrolyte, r.area_cm2, r.three_electrode,
            r.protocol_name, r.protocol_file, r.protocol_sha256, r.protocol_parameters,
            r.state, r.end_reason, r.outcome -> 'verdict' ->> 'criterion' AS stop_criterion, r.ccd_ma_cm2,
            r.created_at, r.ended_at, r.planned_steps, r.software_version,
            (SELECT string_agg(
                    i.role || ': ' || i.model || ' s/n ' || i.serial_number || ' fw ' || i.firmware, '; '
                    ORDER BY i.instrument_id)
                FROM cellrig.instruments i WHERE i.daemon_id = r.daemon_id AND i.run_id = r.run_id) AS instruments
        FROM cellrig.runs r
        """,
        // The polarisation at the end of every stripping half-cycle: the last sample of each `strip` step. In a
        // three-electrode cell the working electrode's (WE-RE) voltage, otherwise the cell voltage.
        """
        CREATE VIEW cellrig.strip_polarisation AS
        SELECT st.daemon_id, st.run_id, r.cell_label, st.cycle, st.step_index, st.current_density_ma_cm2,
            last.time_s AS end_time_s, last.voltage_v, last.voltage_we_re_v,
            1000 * abs(COALESCE(last.voltage_we_re_v, last.voltage_v)) AS polarisation_mv
        FROM cellrig.steps st
        JOIN cellrig.runs r ON r.daemon_id = st.daemon_id AND r.run_id = st.run_id
        CROSS JOIN LATERAL (
            SELECT s.time_s, s.voltage_v, s.voltage_we_re_v FROM cellrig.samples s
            WHERE s.daemon_id = st.daemon_id AND s.run_id = st.run_id AND s.step_index = st.step_index
                AND (s.voltage_v IS NOT NULL OR s.voltage_we_re_v IS NOT NULL)
            ORDER BY s.seq DESC LIMIT 1
        ) last
        WHERE st.kind = 'strip'
        """,
        // The fitted interfacial resistance of every fitted spectrum, per interface, with where it was measured.
        """
        CREATE VIEW cellrig.interfacial_resistance AS
        SELECT f.daemon_id, f.run_id, r.cell_label, r.rig_id, f.step_index, st.cycle,
            (SELECT MIN(z.time_s) FROM cellrig.impedance z
                WHERE z.daemon_id = f.daemon_id AND z.run_id = f.run_id AND z.step_index = f.step_index)
                AS time_s,
            f.circuit, f.interface_element, f.interface_ohm_cm2, f.interface_error_ohm_cm2, f.reduced_chi_square,
            f.kk_consistent, f.fitted_at
        FROM cellrig.impedance_fits f
        JOIN cellrig.runs r ON r.daemon_id = f.daemon_id AND r.run_id = f.run_id
        LEFT JOIN cellrig.steps st
            ON st.daemon_id = f.daemon_id AND st.run_id = f.run_id AND st.step_index = f.step_index
        """,
    ]
}

/// What went wrong talking to the central database, in words.
public enum FleetError: Error, Sendable, CustomStringConvertible {
    case schemaTooNew(found: Int, known: Int)
    case configuration(String)
    case noSuchRun(daemonID: String, runID: Int64)
    case unreachable(String)

    public var description: String {
        switch self {
        case .schemaTooNew(let found, let known):
            "the central database's schema is version \(found), newer than this cellrig knows (\(known)); "
                + "update cellrig on this machine"
        case .configuration(let detail): detail
        case .noSuchRun(let daemonID, let runID): "no run \(runID) of daemon '\(daemonID)' in the central database"
        case .unreachable(let detail): detail
        }
    }
}
