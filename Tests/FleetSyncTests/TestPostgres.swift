import Domain
import FleetSync
import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The PostgreSQL server the fleet tests use, named by `CELLRIG_TEST_POSTGRES` (default: the local Unix socket
/// in /var/run/postgresql, as the current user). `make test` installs and starts it; without it these tests fail
/// and say so.
enum TestPostgres {
    static var adminEndpoint: PostgresEndpoint {
        get throws {
            let user = ProcessInfo.processInfo.userName
            let text =
                ProcessInfo.processInfo.environment["CELLRIG_TEST_POSTGRES"]
                ?? "postgresql://\(user)@/postgres?host=/var/run/postgresql"
            return try PostgresEndpoint.parse(text, defaultUser: user)
        }
    }

    static let logger: Logger = {
        var logger = Logger(label: "fleet-test")
        logger.logLevel = .error
        return logger
    }()

    /// Runs `body` with a client of `endpoint`.
    static func withClient<T: Sendable>(
        _ endpoint: PostgresEndpoint, _ body: @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        try await FleetConnection.withClient(endpoint, password: nil, logger: logger, body)
    }

    /// A database of its own for one test, dropped afterwards whether the test passed or not.
    static func withDatabase<T: Sendable>(_ body: @Sendable (PostgresEndpoint) async throws -> T) async throws -> T {
        let admin = try adminEndpoint
        let name = "cellrig_test_\(UUID().uuidString.prefix(8).lowercased())"
        do {
            _ = try await withClient(admin) { client in
                try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
            }
        } catch {
            throw TestPostgresMissing(endpoint: admin, detail: describe(error))
        }
        var endpoint = admin
        endpoint.database = name
        let result: Result<T, any Error>
        do {
            result = .success(try await body(endpoint))
        } catch {
            result = .failure(error)
        }
        _ = try await withClient(admin) { client in
            try await client.query(
                PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
        return try result.get()
    }

    /// The first column of every row of `sql`, as integers.
    static func integers(_ endpoint: PostgresEndpoint, _ sql: String) async throws -> [Int64] {
        try await withClient(endpoint) { client in
            var values: [Int64] = []
            for try await value in try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(
                Int64.self)
            {
                values.append(value)
            }
            return values
        }
    }

    static func count(_ endpoint: PostgresEndpoint, _ sql: String) async throws -> Int64 {
        try await integers(endpoint, sql).first ?? -1
    }
}

/// The fleet tests need a PostgreSQL server; this says which one was missing and how to get it.
struct TestPostgresMissing: Error, CustomStringConvertible {
    var endpoint: PostgresEndpoint
    var detail: String

    var description: String {
        "the fleet tests need PostgreSQL, which is not reachable at \(endpoint): \(detail). `make test` installs and "
            + "starts it (scripts/install-test-deps.sh, scripts/start-test-postgres.sh); or set "
            + "CELLRIG_TEST_POSTGRES=postgresql://USER@HOST/DATABASE to a server where USER may create databases"
    }
}

/// A PostgreSQL instance the test owns: `initdb` into a scratch directory, listening only on a Unix socket there,
/// so a test can stop and start it without touching the shared server. As root it runs as user `postgres`.
final class PrivatePostgres: Sendable {
    let directory: URL
    let port: Int
    let binaries: String

    var dataDirectory: String { directory.appendingPathComponent("data").path }
    var endpoint: PostgresEndpoint {
        PostgresEndpoint(host: directory.path, port: port, user: "cellrig", database: "postgres", tls: .disable)
    }

    init() throws {
        directory = try TestSupport.scratchDirectory()
        port = Int.random(in: 20_000...60_000)
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let newest = versions.compactMap(Int.init).max() else {
            throw TestPostgresMissing(
                endpoint: PostgresEndpoint(host: "/usr/lib/postgresql", user: "cellrig", database: "postgres"),
                detail: "no PostgreSQL server binaries under /usr/lib/postgresql")
        }
        binaries = "/usr/lib/postgresql/\(newest)/bin"
        if getuid() == 0 { try run("/bin/chown", ["postgres", directory.path], asPostgres: false) }
        try run(
            "\(binaries)/initdb",
            ["-D", dataDirectory, "-U", "cellrig", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C.UTF-8"])
        try start()
    }

    func start() throws {
        let options = "-k \(directory.path) -p \(port) -c listen_addresses='' -c fsync=off"
        try run(
            "\(binaries)/pg_ctl",
            [
                "-D", dataDirectory, "-w", "-t", "60", "-l", directory.appendingPathComponent("log").path, "-o",
                options,
                "start",
            ])
    }

    /// Stops the server now (`-m fast`: clients are disconnected, open transactions rolled back).
    func stop() throws {
        try run("\(binaries)/pg_ctl", ["-D", dataDirectory, "-w", "-t", "60", "-m", "fast", "stop"])
    }

    func remove() {
        try? stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs a command to its end through `bash`, which first closes every inherited descriptor above 2: the
    /// server `pg_ctl start` leaves running must hold none of this process's pipes or sockets (Foundation's
    /// `Process` would wait for them to close, and so would every other child's reader). posix_spawn and waitpid,
    /// not `Process`, for the same reason.
    private func run(_ executable: String, _ arguments: [String], asPostgres: Bool = true) throws {
        let outputPath = "/tmp/cellrig-pg-\(UUID().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var command = [executable] + arguments
        if asPostgres && getuid() == 0 { command = ["/usr/sbin/runuser", "-u", "postgres", "--"] + command }
        let quoted = command.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let script = """
            for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done
            exec \(quoted.joined(separator: " ")) < /dev/null > \(outputPath) 2>&1
            """
        let words: [String] = ["/bin/bash", "-c", script]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/bash", nil, nil, argv, environ)
        guard spawned == 0 else {
            throw TestPostgresMissing(endpoint: endpoint, detail: "cannot start \(executable): errno \(spawned)")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let exitCode = (status >> 8) & 0xff
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard status & 0x7f == 0, exitCode == 0 else {
            throw TestPostgresMissing(
                endpoint: endpoint, detail: "\(executable) \(arguments.joined(separator: " ")) failed: \(text)")
        }
    }
}
