import Domain
import FleetSync
import Foundation
import ProtocolFiles
import TestSupport
import Testing

@Suite("The daemon's configuration file and connection strings")
struct DaemonConfigFileTests {
    let file = "/etc/cellrig/cellrigd.yaml"

    @Test("a full file: paths from the file's folder, the sync section with its defaults")
    func fullFile() throws {
        let settings = try DaemonConfigFile.parse(
            """
            schema: 1
            state_dir: state
            rigs: /etc/cellrig/rigs
            log_level: notice
            sync:
              daemon_id: lab2-pc1
              postgres: postgresql://cellrig@db.lab.example:5433/fleet?sslmode=require
              password_file: postgres-password
              interval: 2 s
            """, file: file, defaultUser: "someone")
        #expect(settings.stateDirectory == "/etc/cellrig/state")
        #expect(settings.rigs == "/etc/cellrig/rigs")
        #expect(settings.logLevel == "notice")
        let sync = try #require(settings.sync)
        #expect(sync.daemonID == "lab2-pc1")
        #expect(
            sync.endpoint
                == PostgresEndpoint(
                    host: "db.lab.example", port: 5433, user: "cellrig", database: "fleet", tls: .require))
        #expect(sync.password == .file("/etc/cellrig/postgres-password"))
        #expect(sync.interval_s == 2)
        #expect(sync.batchSamples == 20_000)
    }

    @Test("errors name the file, the line, the key and what is allowed")
    func errors() throws {
        func error(_ text: String) -> String {
            do {
                _ = try DaemonConfigFile.parse(text, file: file, defaultUser: "u")
                return "no error"
            } catch {
                return error.description
            }
        }
        let unknown = error("schema: 1\nsync:\n  daemon_id: a\n  postgres: postgresql://u@h/d\n  passwd: x\n")
        #expect(unknown.hasPrefix("\(file):5:"), "\(unknown)")
        #expect(unknown.contains("unknown key 'passwd'") && unknown.contains("password_file"), "\(unknown)")

        let password = error("schema: 1\nsync:\n  daemon_id: a\n  postgres: postgresql://u:secret@h/d\n")
        #expect(password.hasPrefix("\(file):4:"), "\(password)")
        #expect(password.contains("sync.postgres: the connection string holds a password"), "\(password)")
        #expect(!password.contains("secret"), "the message does not repeat the password")

        let both = error(
            "schema: 1\nsync:\n  daemon_id: a\n  postgres: postgresql://u@h/d\n  password_file: f\n  password_env: P\n")
        #expect(both.hasPrefix("\(file):6:") && both.contains("not both"), "\(both)")

        let id = error("schema: 1\nsync:\n  daemon_id: lab pc/1\n  postgres: postgresql://u@h/d\n")
        #expect(id.hasPrefix("\(file):3:") && id.contains("sync.daemon_id") && id.contains("letters"), "\(id)")

        let interval = error("schema: 1\nsync:\n  daemon_id: a\n  postgres: postgresql://u@h/d\n  interval: 2 h\n")
        #expect(interval.hasPrefix("\(file):5:") && interval.contains("out of range"), "\(interval)")

        let missing = error("schema: 1\nsync:\n  daemon_id: a\n")
        #expect(missing.contains("missing required key 'postgres'"), "\(missing)")

        let level = error("schema: 1\nlog_level: loud\n")
        #expect(level.hasPrefix("\(file):2:") && level.contains("trace, debug"), "\(level)")
    }

    @Test("connection strings: TCP with sslmode, the Unix socket, defaults, and what is refused")
    func connectionStrings() throws {
        let socket = try PostgresEndpoint.parse(
            "postgresql:///cellrig?host=/var/run/postgresql&port=5433", defaultUser: "lab")
        #expect(socket.isUnixSocket && socket.unixSocketPath == "/var/run/postgresql/.s.PGSQL.5433")
        #expect(socket.user == "lab" && socket.database == "cellrig")
        #expect(try PostgresEndpoint.parse(socket.description, defaultUser: "x") == socket, "\(socket)")

        let escaped = try PostgresEndpoint.parse("postgres://me@%2Ftmp%2Fpg/db", defaultUser: "x")
        #expect(escaped.host == "/tmp/pg" && escaped.user == "me")

        let plain = try PostgresEndpoint.parse("postgresql://db.lab", defaultUser: "lab")
        #expect(plain.port == 5432 && plain.database == "lab" && plain.tls == .prefer)
        let verified = try PostgresEndpoint.parse(
            "postgresql://u@db/d?sslmode=verify-full&sslrootcert=/etc/ssl/lab-ca.pem", defaultUser: "x")
        #expect(verified.tls == .verifyFull && verified.rootCertificatePath == "/etc/ssl/lab-ca.pem")
        #expect(try PostgresEndpoint.parse(verified.description, defaultUser: "x") == verified)

        #expect(throws: PostgresEndpoint.ParseError.self) {
            try PostgresEndpoint.parse("postgresql://u@h/d?password=x", defaultUser: "x")
        }
        #expect(throws: PostgresEndpoint.ParseError.self) {
            try PostgresEndpoint.parse("postgresql://u@h/d?sslmode=allow-maybe", defaultUser: "x")
        }
        #expect(throws: PostgresEndpoint.ParseError.self) {
            try PostgresEndpoint.parse("mysql://u@h/d", defaultUser: "x")
        }
        #expect(throws: PostgresEndpoint.ParseError.self) {
            try PostgresEndpoint.parse("postgresql://u@h:99999/d", defaultUser: "x")
        }
    }

    @Test("the password comes from its file's first line or from the environment, and a missing one is named")
    func passwords() throws {
        let directory = try TestSupport.scratchDirectory()
        let path = directory.appendingPathComponent("pw").path
        try "s3cret\nignored\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try FleetConnection.password(.file(path)) == "s3cret")
        #expect(try FleetConnection.password(.environment("PW"), environment: ["PW": "x"]) == "x")
        #expect(try FleetConnection.password(.none) == nil)
        #expect(throws: FleetError.self) { try FleetConnection.password(.environment("PW"), environment: [:]) }
        #expect(throws: FleetError.self) { try FleetConnection.password(.file(path + ".absent")) }
    }

    @Test("cellrigd --check reads the configuration file and says where it syncs")
    func daemonCheck() throws {
        let directory = try TestSupport.scratchDirectory()
        let config = directory.appendingPathComponent("cellrigd.yaml").path
        try """
        schema: 1
        state_dir: state
        sync:
          daemon_id: pc-check
          postgres: postgresql://cellrig@db.lab.example/fleet
          password_env: CELLRIG_PG_PASSWORD
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let checked = try TestSupport.runProduct("cellrigd", ["--config", config, "--check"])
        #expect(checked.status == 0, "\(checked.standardError)")
        #expect(checked.standardOutput.contains("database: \(directory.path)/state/cellrig.sqlite"))
        #expect(
            checked.standardOutput.contains("sync: daemon 'pc-check' to postgresql://cellrig@db.lab.example:5432/fleet")
        )

        try "schema: 1\nsync:\n  daemon_id: x\n  postgres: postgresql://a:b@h/d\n".write(
            toFile: config, atomically: true, encoding: .utf8)
        let refused = try TestSupport.runProduct("cellrigd", ["--config", config, "--check"])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("\(config):4:"), "\(refused.standardError)")
    }
}
