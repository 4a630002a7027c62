import ArgumentParser
import Daemon
import Domain
import Foundation
import Logging
import ProtocolFiles

/// `cellrigd`: the cellrig daemon. Drives the rigs, records every sample, serves the control socket.
@main
struct CellRigDaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cellrigd",
        abstract: "Run battery-test protocols on the rigs, record everything to SQLite, serve the control socket.",
        discussion: """
            Without --rigs the daemon drives the built-in simulated rig (rigs/sim.yaml), so it runs without hardware.
            --config names a configuration file (docs/daemon-configuration.md) with the same settings and the \
            optional sync: (the lab's central PostgreSQL database) and notify: (a webhook or a command told of \
            run ends, faults and pauses) sections; command-line options win over it.
            SIGTERM or SIGINT end active runs as 'interrupted' with the cell at open circuit; the next start resumes
            them as their protocols' on_restart says. SIGHUP reads the --rigs folder again: new rigs appear, changed
            idle rigs change, a rig with an active run keeps its description until the run ends.
            """,
        version: CellRigVersion.current)

    @Option(help: "Daemon configuration file (YAML, e.g. \(DaemonConfiguration.defaultConfigurationFile)).")
    var config: String?

    @Option(
        name: .customLong("state-dir"),
        help: "Directory holding the state: the socket and the database go here unless given separately.")
    var stateDirectory: String?

    @Option(help: "Path of the control socket (default: \(DaemonConfiguration.defaultSocketPath)).")
    var socket: String?

    @Option(help: "Path of the SQLite database (default: \(DaemonConfiguration.defaultDatabasePath)).")
    var database: String?

    @Option(help: "Directory of rig files (*.yaml). Default: the built-in simulated rig.")
    var rigs: String?

    @Option(help: "Log level: trace, debug, info (default), notice, warning, error, critical.")
    var logLevel: String?

    @Flag(help: "Check the configuration (rig files, database) and exit.")
    var check = false

    @Flag(help: "List the simulated physics cell's presets and parameters (for rig files) and exit.")
    var simulationParameters = false

    func run() async throws {
        if simulationParameters {
            print(SimulatedCellDocumentation.text)
            return
        }
        let settings = try config.map { try DaemonConfiguration.loadSettings(file: $0) } ?? DaemonSettings()
        let logLevel = logLevel ?? settings.logLevel ?? "info"
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError(
                "--log-level '\(logLevel)' is not a level; use trace, debug, info, notice, warning, error or critical")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "cellrigd")
        let state = (stateDirectory ?? settings.stateDirectory).map { URL(fileURLWithPath: $0) }
        let socketPath =
            socket ?? settings.socket ?? state?.appendingPathComponent("cellrig.sock").path
            ?? DaemonConfiguration.defaultSocketPath
        let databasePath =
            database ?? settings.database ?? state?.appendingPathComponent("cellrig.sqlite").path
            ?? DaemonConfiguration.defaultDatabasePath
        let rigDescriptions =
            try (rigs ?? settings.rigs).map { try DaemonConfiguration.loadRigs(directory: $0) }
            ?? DaemonConfiguration.embeddedSimulatedRigs()
        if let state {
            try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        }
        let socketDirectory = URL(fileURLWithPath: socketPath).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: socketDirectory, withIntermediateDirectories: true)

        var configuration = DaemonConfiguration(
            socketPath: socketPath, databasePath: databasePath, rigs: rigDescriptions, sync: settings.sync)
        configuration.rigDirectory = rigs ?? settings.rigs
        configuration.notify = settings.notify
        let daemon = try CellRigDaemon(configuration: configuration, logger: logger)
        if check {
            print(
                "configuration ok: \(rigDescriptions.count) rig(s): \(rigDescriptions.map(\.id).joined(separator: ", "))"
            )
            print("database: \(databasePath)")
            print("socket: \(socketPath)")
            if let sync = settings.sync { print("sync: daemon '\(sync.daemonID)' to \(sync.endpoint)") }
            if let notify = settings.notify { print("notify: \(notify.summary)") }
            return
        }
        try await daemon.run()
    }
}
