import ArgumentParser
import Domain
import FleetSync
import Foundation
import Logging
import ProtocolFiles
import Storage

/// `cellrig fleet runs|status|export`: the lab's central PostgreSQL database, where every daemon's runs meet.
struct Fleet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Query the lab's central PostgreSQL database that the daemons sync into.",
        discussion: """
            The database is named by --url, else $CELLRIG_FLEET_URL, else the sync: section of a daemon \
            configuration file given with --config. The password comes from --password-file, $PGPASSWORD, or the \
            configuration's password_file/password_env; never from the command line. See docs/fleet.md.
            """,
        subcommands: [FleetRuns.self, FleetStatus.self, FleetExport.self])
}

/// Where the central database is, and how to log in.
struct FleetOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The central database (default: $CELLRIG_FLEET_URL).",
            discussion: "postgresql://USER@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require|verify-full]",
            valueName: "url"))
    var url: String?

    @Option(help: "A daemon configuration file whose sync: section names the central database.")
    var config: String?

    @Option(help: "File holding the database password (default: $PGPASSWORD when set).")
    var passwordFile: String?

    func connection() throws -> (endpoint: PostgresEndpoint, password: PasswordSource) {
        let environment = ProcessInfo.processInfo.environment
        let user = ProcessInfo.processInfo.userName
        var endpoint: PostgresEndpoint
        var password = PasswordSource.none
        if let text = url ?? environment["CELLRIG_FLEET_URL"] {
            do {
                endpoint = try PostgresEndpoint.parse(text, defaultUser: user)
            } catch {
                throw ValidationError("--url: \(error)")
            }
        } else if let config {
            let settings = try DaemonConfigFile.parse(try readText(config), file: config, defaultUser: user)
            guard let sync = settings.sync else { throw CommandFailure("\(config): has no sync: section") }
            endpoint = sync.endpoint
            password = sync.password
        } else {
            throw ValidationError("name the central database with --url, $CELLRIG_FLEET_URL or --config")
        }
        if let passwordFile {
            password = .file(passwordFile)
        } else if environment["PGPASSWORD"] != nil, case .none = password {
            password = .environment("PGPASSWORD")
        }
        return (endpoint, password)
    }

    /// Runs `body` with a reader of the central database, turning PostgreSQL's errors into words.
    @discardableResult
    func withReader<T: Sendable>(_ body: @Sendable (FleetReader) async throws -> T) async throws -> T {
        let (endpoint, passwordSource) = try connection()
        let password: String?
        do {
            password = try FleetConnection.password(passwordSource)
        } catch {
            throw CommandFailure("\(error)")
        }
        var quiet = Logger(label: "cellrig-fleet")
        quiet.logLevel = .error
        let logger = quiet
        do {
            return try await FleetConnection.withClient(endpoint, password: password, logger: logger) { client in
                try await body(FleetReader(client: client, logger: logger))
            }
        } catch  where isPostgresError(error) {
            throw CommandFailure("\(endpoint): \(describe(error))")
        }
    }
}

/// `cellrig fleet runs`: runs of every daemon, newest first, with filters.
struct FleetRuns: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs", abstract: "List runs from every daemon: state, protocol, rig, cell and CCD.")

    @OptionGroup var fleet: FleetOptions

    @Option(help: "Only this daemon's runs.")
    var daemon: String?
    @Option(help: "Only runs on this rig.")
    var rig: String?
    @Option(help: "Only runs of this cell label.")
    var cell: String?
    @Option(name: .customLong("protocol"), help: "Only runs of this protocol name, or SHA-256 prefix.")
    var protocolName: String?
    @Option(help: "Only runs in this state (running, stopped, completed, aborted, interrupted, faulted).")
    var state: String?
    @Option(help: "Only runs started at or after this date (YYYY-MM-DD or ISO 8601 time).")
    var since: String?
    @Option(help: "Only runs started before this date (YYYY-MM-DD or ISO 8601 time).")
    var until: String?
    @Option(help: "At most this many runs.")
    var limit: Int = 100
    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let filter = FleetRunFilter(
            daemonID: daemon, rig: rig, cell: cell, protocolNameOrHash: protocolName, state: state,
            since: try since.map { try parseDate($0, option: "--since") },
            until: try until.map { try parseDate($0, option: "--until") }, limit: limit)
        let runs = try await fleet.withReader { try await $0.runs(filter) }
        if json { return try printJSON(runs) }
        print(["daemon", "run", "state", "protocol", "rig", "cell", "CCD mA/cm2", "started"].joined(separator: "\t"))
        for run in runs {
            let fields = [
                run.daemon_id, String(run.run_id), run.state, run.protocol_name, run.rig_id, run.cell_label ?? "-",
                run.ccd_mA_cm2.map { formatNumber($0) } ?? "-",
                run.created_at.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false)),
            ]
            print(fields.joined(separator: "\t"))
        }
    }
}

/// `cellrig fleet status`: every daemon that syncs, and how far behind it is.
struct FleetStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show which daemons are behind the central database, and by how much.")

    @OptionGroup var fleet: FleetOptions
    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let daemons = try await fleet.withReader { try await $0.daemons() }
        if json { return try printJSON(daemons) }
        if daemons.isEmpty { print("no daemon has synced into this database yet") }
        for daemon in daemons {
            var line = "\(daemon.daemon_id) (\(daemon.hostname), cellrig \(daemon.software_version)): "
            line += "last contact \(formatDuration(daemon.seconds_since_contact)) ago; "
            if daemon.pending_samples + daemon.pending_events + daemon.pending_changes == 0 {
                line += "up to date then"
            } else {
                line += "behind by \(daemon.pending_samples) samples, \(daemon.pending_events) events, "
                line += "\(daemon.pending_changes) changed rows"
            }
            if let lag = daemon.lag_s { line += "; has everything stored up to \(formatDuration(lag)) ago" }
            line += "; runs: \(daemon.central_runs) here, \(daemon.local_runs) on the daemon, "
            line += "\(daemon.active_runs) active"
            print(line)
        }
    }
}

/// `cellrig fleet export DAEMON RUN`: a run from the central database, in exactly the bytes `cellrig export` writes.
struct FleetExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a run from the central database as `cellrig export` does on its daemon (same bytes).")

    @Argument(help: "The daemon id the run comes from (see `cellrig fleet runs`).")
    var daemon: String

    @Argument(help: "The run's id on that daemon.")
    var runID: Int64

    @OptionGroup var files: ExportFiles
    @OptionGroup var fleet: FleetOptions

    func run() async throws {
        let (daemon, runID, files) = (daemon, runID, files)
        let location = "the central database (daemon '\(daemon)')"
        try await fleet.withReader { reader in
            try await files.export(runID: runID, from: reader.records(of: daemon), describedAs: location)
        }
    }
}

/// A date for `--since`/`--until`: a day (midnight UTC) or an ISO 8601 time.
func parseDate(_ text: String, option: String) throws -> Date {
    if let day = try? Date(text + "T00:00:00Z", strategy: .iso8601) { return day }
    if let time = try? Date(text, strategy: .iso8601) { return time }
    throw ValidationError("\(option) '\(text)' is not a date; give YYYY-MM-DD or an ISO 8601 time")
}
