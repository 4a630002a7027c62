import ArgumentParser
import Control
import Domain
import Foundation
import ProtocolFiles

/// `cellrig rigs`: the daemon's rigs and what they are doing.
struct Rigs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the daemon's rigs.")

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print JSON: an array of rigs as GET /v1/rigs gives them.")
    var json = false

    func run() throws {
        let rigs = try connection.client.send(.rigs)
        if json { return try printJSON(rigs) }
        for rig in rigs {
            let activity =
                rig.run_id.map { "running run \($0)" } ?? rig.unavailable.map { "unavailable: \($0)" } ?? "idle"
            print(
                "\(rig.id)\t\(rig.name)\t\(rig.galvanostat)\t\(rig.metal) | \(rig.electrolyte)\t"
                    + "\(formatNumber(rig.electrode_area_cm2)) cm2\t\(activity)")
        }
    }
}

/// `cellrig start PROTOCOL --rig R`: starts a run on the daemon.
struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start a test protocol on a rig.")

    @Argument(help: "Protocol file (sent to the daemon as text).")
    var protocolFile: String

    @Option(help: "Rig id (see `cellrig rigs`).")
    var rig: String

    @Option(help: "Label of the cell under test (sample id), recorded with the run.")
    var cell: String?

    @Option(help: "Working-electrode area in cm2, if it differs from the rig file's.")
    var areaCm2: Double?

    @OptionGroup var parameterOptions: ParameterOptions
    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print the run's status as JSON.")
    var json = false

    func run() throws {
        let text = try readText(protocolFile)
        let parameters = try parameterOptions.parameters()
        // Check locally first so errors point at the file the operator is editing.
        _ = try ProtocolFile.parse(text, file: protocolFile, parameters: parameters)
        let request = StartRunRequest(
            protocol_file: protocolFile, protocol_text: text, rig: rig, cell_label: cell, area_cm2: areaCm2,
            parameters: parameters)
        let status = try connection.client.send(try .start(request))
        if json { return try printJSON(status) }
        print(
            "started run \(status.id): \(status.protocol_name) on rig \(status.rig), \(status.planned_steps) planned steps"
        )
        print("follow it with: cellrig watch \(status.id)")
    }
}

/// `cellrig status [RUN]`: one run's state and result, or the recent runs.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a run's state and result, or list recent runs.",
        discussion: "With a run id: " + RunExitCode.help)

    @Argument(help: "Run id; omit to list recent runs.")
    var runID: Int64?

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print JSON: the run's status (without a run id, an array of the newest runs' summaries).")
    var json = false

    func run() throws {
        guard let runID else {
            let page = try connection.client.send(.runs())
            if json { return try printJSON(page.runs) }
            for summary in page.runs { print(RunDescription.summaryLine(summary)) }
            if page.next_before != nil { print("older runs: cellrig runs --all") }
            return
        }
        let status = try connection.client.send(.status(runID))
        if json { try printJSON(status) } else { print(RunDescription.describe(status)) }
        try RunExitCode.exit(for: status.state)
    }
}

/// `cellrig abort RUN`: ends a run now, cell to open circuit.
struct Abort: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Abort a running run (the cell goes to open circuit).")

    @Argument(help: "Run id.")
    var runID: Int64

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print the run's final status as JSON.")
    var json = false

    func run() throws {
        let status = try connection.client.send(.abort(runID))
        if json { return try printJSON(status) }
        print(RunDescription.summaryLine(status))
    }
}

/// `cellrig resume RUN`: continues a run a guard paused.
struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue a paused run: the paused step's current is applied again.")

    @Argument(help: "Run id.")
    var runID: Int64

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print the run's status as JSON.")
    var json = false

    func run() throws {
        let status = try connection.client.send(.resume(runID))
        if json { return try printJSON(status) }
        print(RunDescription.summaryLine(status))
    }
}
