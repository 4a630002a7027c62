import ArgumentParser
import Control
import Domain
import Foundation
import ProtocolFiles

/// `cellrig rigs`: the daemon's rigs and what they are doing.
struct Rigs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the daemon's rigs.")

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let rigs = try connection.client.request("GET", "/v1/rigs", as: [RigInfo].self)
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
        let status = try connection.client.request("POST", "/v1/runs", body: request, as: RunStatus.self)
        if json { return try printJSON(status) }
        print(
            "started run \(status.id): \(status.protocol_name) on rig \(status.rig), \(status.planned_steps) planned steps"
        )
        print("follow it with: cellrig watch \(status.id)")
    }
}

/// `cellrig status [RUN]`: one run's state and result, or the recent runs.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a run's state and result, or list recent runs.")

    @Argument(help: "Run id; omit to list recent runs.")
    var runID: Int64?

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        guard let runID else {
            let runs = try connection.client.request("GET", "/v1/runs", as: [RunStatus].self)
            if json { return try printJSON(runs) }
            for status in runs { print(summaryLine(status)) }
            return
        }
        let status = try connection.client.request("GET", "/v1/runs/\(runID)", as: RunStatus.self)
        if json { return try printJSON(status) }
        print(describe(status))
    }
}

/// `cellrig abort RUN`: ends a run now, cell to open circuit.
struct Abort: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Abort a running run (the cell goes to open circuit).")

    @Argument(help: "Run id.")
    var runID: Int64

    @OptionGroup var connection: ConnectionOptions

    func run() throws {
        let status = try connection.client.request("POST", "/v1/runs/\(runID)/abort", as: RunStatus.self)
        print(summaryLine(status))
    }
}

/// `cellrig watch RUN`: live progress until the run ends, then its result.
struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow a run live: cycle, current density, voltage, cell time, progress; ends with the result.")

    @Argument(help: "Run id.")
    var runID: Int64

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Seconds between progress lines.")
    var every: Double = 1

    func run() throws {
        var lastLine = ContinuousClock.now - .seconds(3600)
        var final: RunStatus?
        var warnings: [String: Int] = [:]
        let decoder = JSONDecoder()
        try connection.client.stream("/v1/runs/\(runID)/live") { event, data in
            switch event {
            case LiveEventName.progress:
                guard ContinuousClock.now - lastLine >= .seconds(every),
                    let progress = try? decoder.decode(RunProgress.self, from: Data(data.utf8))
                else { return true }
                lastLine = ContinuousClock.now
                print(progressLine(progress))
            case LiveEventName.event:
                guard let info = try? decoder.decode(EventInfo.self, from: Data(data.utf8)),
                    ["verdict", "fault", "run-ended", "operator"].contains(info.kind)
                else { return true }
                if info.action == VerdictAction.warn.rawValue, let criterion = info.criterion {
                    // A warning criterion may speak every step; show its first word, count the rest.
                    warnings[criterion, default: 0] += 1
                    guard warnings[criterion] == 1 else { return true }
                    print("[\(formatDuration(info.time_s))] \(info.message) (further warnings counted)")
                } else {
                    print("[\(formatDuration(info.time_s))] \(info.message)")
                }
            case LiveEventName.end:
                final = try decoder.decode(RunStatus.self, from: Data(data.utf8))
                return false
            case LiveEventName.disconnected:
                let body = try? decoder.decode(ErrorBody.self, from: Data(data.utf8))
                throw CommandFailure("the daemon ended the live stream: \(body?.error ?? data)")
            default:
                break
            }
            return true
        }
        guard let final else { throw CommandFailure("the daemon closed the live stream before run \(runID) ended") }
        print(describe(final))
    }
}

func progressLine(_ progress: RunProgress) -> String {
    var line = "run \(progress.run_id)  cycle \(progress.cycle)  \(progress.kind) "
    line += "\(formatNumber(progress.current_density_mA_cm2, significantDigits: 4)) mA/cm2  "
    line += "V \(formatNumber(progress.voltage_V * 1e3, significantDigits: 5)) mV  "
    if let weRe = progress.voltage_we_re_V { line += "WE-RE \(formatNumber(weRe * 1e3, significantDigits: 5)) mV  " }
    line += "cell time \(formatDuration(progress.time_s))  "
    line += "step \(progress.step + 1)/\(progress.steps)  \(Int((progress.fraction_done * 100).rounded()))% of plan"
    return line
}

func summaryLine(_ status: RunStatus) -> String {
    var line =
        "run \(status.id)\t\(status.state)\t\(status.protocol_name)\trig \(status.rig)\t\(status.samples) samples"
    if let ccd = status.ccd_mA_cm2 { line += "\tCCD \(formatNumber(ccd)) mA/cm2" }
    return line
}

func describe(_ status: RunStatus) -> String {
    var lines = [
        "run \(status.id): \(status.state)",
        "  protocol: \(status.protocol_name) (\(status.protocol_file), sha256 \(status.protocol_sha256.prefix(12)))",
        "  rig: \(status.rig)  cell: \(status.cell_label ?? "-")  area: \(formatNumber(status.area_cm2)) cm2",
        "  started: \(status.created_at)" + (status.ended_at.map { "  ended: \($0)" } ?? ""),
        "  samples: \(status.samples)  planned steps: \(status.planned_steps)",
    ]
    if let reason = status.reason { lines.append("  reason: \(reason)") }
    if let ccd = status.ccd_mA_cm2 { lines.append("  CCD: \(formatNumber(ccd)) mA/cm2") }
    if let reaction = status.reaction_time_ms {
        lines.append("  cell off \(formatNumber(reaction, significantDigits: 3)) ms after the tripping sample arrived")
    }
    if let progress = status.progress { lines.append("  now: " + progressLine(progress)) }
    for verdict in status.verdicts where verdict.action != VerdictAction.warn.rawValue {
        lines.append(
            "  verdict: \(verdict.criterion) \(verdict.action) at \(formatDuration(verdict.time_s)): \(verdict.reason)")
    }
    let warnings = Dictionary(grouping: status.verdicts.filter { $0.action == VerdictAction.warn.rawValue }) {
        $0.criterion
    }
    for (criterion, verdicts) in warnings.sorted(by: { $0.key < $1.key }) {
        let first = verdicts[0]
        lines.append(
            "  warnings: \(criterion) x\(verdicts.count), first at \(formatDuration(first.time_s)): \(first.reason)")
    }
    for voiding in status.results?.voiding ?? [] where voiding.voided {
        lines.append(
            "  voiding at \(formatNumber(voiding.current_density_mA_cm2)) mA/cm2: flagged in \(voiding.flagged_steps) of "
                + "\(voiding.stripping_steps) strips")
    }
    for spectrum in status.spectra ?? [] {
        lines.append(
            "  impedance (step \(spectrum.step)): \(spectrum.points) points, \(formatNumber(spectrum.first_frequency_Hz)) Hz "
                + "to \(formatNumber(spectrum.last_frequency_Hz)) Hz; Z' \(formatNumber(spectrum.real_high_frequency_Ohm, significantDigits: 4)) Ohm "
                + "at the highest frequency, \(formatNumber(spectrum.real_low_frequency_Ohm, significantDigits: 4)) Ohm at the lowest"
        )
    }
    for truth in status.truth ?? [] {
        lines.append(
            "  truth (simulator): \(truth.kind) at \(formatDuration(truth.time_s)), "
                + "\(formatNumber(truth.current_density_mA_cm2)) mA/cm2")
    }
    return lines.joined(separator: "\n")
}
