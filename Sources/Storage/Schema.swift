import GRDB

/// The database schema: named, append-only migrations. A database written by an older cellrig is migrated when a
/// daemon opens it for writing; never edit a migration that has shipped, add one.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: runs, steps, samples, events, instruments, ground truth") { db in
            try db.execute(
                sql: """
                    CREATE TABLE runs (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        state TEXT NOT NULL,
                        protocol_name TEXT NOT NULL,
                        protocol_file TEXT NOT NULL,
                        protocol_text TEXT NOT NULL,
                        protocol_sha256 TEXT NOT NULL,
                        protocol_parameters TEXT NOT NULL,
                        rig_id TEXT NOT NULL,
                        rig TEXT NOT NULL,
                        cell TEXT NOT NULL,
                        cell_label TEXT,
                        area_cm2 REAL NOT NULL,
                        three_electrode INTEGER NOT NULL,
                        plan TEXT NOT NULL,
                        planned_steps INTEGER NOT NULL,
                        software_version TEXT NOT NULL,
                        created_at TEXT NOT NULL,
                        ended_at TEXT,
                        end_reason TEXT,
                        ccd_mA_cm2 REAL,
                        outcome TEXT
                    );
                    CREATE TABLE steps (
                        run_id INTEGER NOT NULL REFERENCES runs(id),
                        step_index INTEGER NOT NULL,
                        cycle INTEGER NOT NULL,
                        kind TEXT NOT NULL,
                        current_A REAL NOT NULL,
                        current_density_mA_cm2 REAL NOT NULL,
                        start_time_s REAL NOT NULL,
                        end_time_s REAL,
                        end_reason TEXT,
                        charge_C REAL NOT NULL,
                        PRIMARY KEY (run_id, step_index)
                    ) WITHOUT ROWID;
                    CREATE TABLE samples (
                        run_id INTEGER NOT NULL REFERENCES runs(id),
                        seq INTEGER NOT NULL,
                        time_s REAL NOT NULL,
                        current_A REAL NOT NULL,
                        voltage_V REAL NOT NULL,
                        voltage_we_re_V REAL,
                        pressure_MPa REAL,
                        temperature_C REAL,
                        cycle INTEGER NOT NULL,
                        step_index INTEGER NOT NULL,
                        PRIMARY KEY (run_id, seq)
                    ) WITHOUT ROWID;
                    CREATE TABLE events (
                        run_id INTEGER NOT NULL REFERENCES runs(id),
                        seq INTEGER NOT NULL,
                        time_s REAL NOT NULL,
                        recorded_at TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        step_index INTEGER,
                        message TEXT NOT NULL,
                        verdict TEXT,
                        PRIMARY KEY (run_id, seq)
                    ) WITHOUT ROWID;
                    CREATE TABLE instruments (
                        run_id INTEGER NOT NULL REFERENCES runs(id),
                        role TEXT NOT NULL,
                        model TEXT NOT NULL,
                        firmware TEXT NOT NULL,
                        serial_number TEXT NOT NULL,
                        port TEXT NOT NULL
                    );
                    CREATE TABLE ground_truth (
                        run_id INTEGER NOT NULL REFERENCES runs(id),
                        kind TEXT NOT NULL,
                        time_s REAL NOT NULL,
                        electrode TEXT,
                        current_density_mA_cm2 REAL NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v2: reaction time of stops") { db in
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN reaction_time_s REAL")
        }
        migrator.registerMigration("v3: impedance spectra") { db in
            try db.execute(
                sql: """
                    CREATE TABLE impedance (
                        run_id INTEGER NOT NULL REFERENCES runs(id),
                        step_index INTEGER NOT NULL,
                        point INTEGER NOT NULL,
                        cycle INTEGER NOT NULL,
                        time_s REAL NOT NULL,
                        frequency_Hz REAL NOT NULL,
                        z_real_Ohm REAL NOT NULL,
                        z_imag_Ohm REAL NOT NULL,
                        PRIMARY KEY (run_id, step_index, point)
                    ) WITHOUT ROWID
                    """)
        }
        migrator.registerMigration("v4: sample flags, nullable readings, discarded readings, cell-off confirmation") {
            db in
            // A reading the instrument sent as a non-finite number is stored as NULL with its flag, so the samples
            // table is rebuilt without NOT NULL on the readings (SQLite cannot drop a column constraint in place).
            try db.execute(
                sql: """
                    CREATE TABLE samples_v4 (
                        run_id INTEGER NOT NULL REFERENCES runs(id),
                        seq INTEGER NOT NULL,
                        time_s REAL NOT NULL,
                        current_A REAL,
                        voltage_V REAL,
                        voltage_we_re_V REAL,
                        pressure_MPa REAL,
                        temperature_C REAL,
                        cycle INTEGER NOT NULL,
                        step_index INTEGER NOT NULL,
                        flags INTEGER NOT NULL DEFAULT 0,
                        PRIMARY KEY (run_id, seq)
                    ) WITHOUT ROWID;
                    INSERT INTO samples_v4 (run_id, seq, time_s, current_A, voltage_V, voltage_we_re_V, pressure_MPa,
                        temperature_C, cycle, step_index, flags)
                        SELECT run_id, seq, time_s, current_A, voltage_V, voltage_we_re_V, pressure_MPa,
                            temperature_C, cycle, step_index, 0 FROM samples;
                    DROP TABLE samples;
                    ALTER TABLE samples_v4 RENAME TO samples;
                    CREATE INDEX samples_flagged ON samples (run_id) WHERE flags != 0;
                    ALTER TABLE runs ADD COLUMN discarded_readings INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE runs ADD COLUMN cell_off_confirmed_s REAL;
                    """)
        }
        migrator.registerMigration("v5: impedance fits", migrate: RunStore.createImpedanceFitsTable)
        migrator.registerMigration("v6: last write time and inputs of runs") { db in
            // After a crash, the wall time a run was away is the time since its last stored batch.
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN last_written_at TEXT")
            // Runs a graceful shutdown (an upgrade, a reboot) interrupted, for the next daemon to resume.
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN resume_on_start INTEGER NOT NULL DEFAULT 0")
            // Pauses and resumes from outside the samples, so a replay takes the live run's course.
            try db.execute(
                sql: """
                    CREATE TABLE run_inputs (
                        run_id INTEGER NOT NULL REFERENCES runs(id),
                        seq INTEGER NOT NULL,
                        after_samples INTEGER NOT NULL,
                        kind TEXT NOT NULL,
                        reason TEXT NOT NULL,
                        verdict TEXT,
                        PRIMARY KEY (run_id, seq)
                    ) WITHOUT ROWID
                    """)
        }
        migrator.registerMigration("v7: sync watermarks", migrate: RunStore.createSyncLedger)
        migrator.registerMigration("v8: run queue", migrate: RunStore.createQueueTables)
        return migrator
    }
}
