import ArgumentParser
import Control
import Domain
import Engine
import Foundation
import ProtocolFiles
import Replay
import Storage

/// `cellrig validate FILE...`: checks protocol files without running them.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check test-protocol files: syntax, units, keys, criteria; prints where any error is.")

    @Argument(help: "Protocol files (YAML, schema 1).")
    var files: [String]

    @OptionGroup var parameterOptions: ParameterOptions

    @Option(help: "Also expand the plan for this electrode area (cm2), which checks schedules and limits.")
    var areaCm2: Double = 0.196

    @Flag(help: "Print JSON: an array with one object per file (ok, and the protocol's name and steps or the error).")
    var json = false

    @Option(
        help: ArgumentHelp(
            "Also check the protocols against this rig file: potentials within its voltage limit, currents within its "
                + "current limit, at its electrode area (instead of --area-cm2).", valueName: "rig-file"))
    var rig: String?

    func run() throws {
        var results: [ValidationResult] = []
        let rigDescription = try rig.map { try RigFile.parse(try readText($0), file: $0) }
        for file in files {
            do {
                let text = try readText(file)
                let testProtocol = try ProtocolFile.parse(
                    text, file: file, parameters: try parameterOptions.parameters())
                let area = rigDescription?.cell.electrodeArea_cm2 ?? areaCm2
                let engine = try RunEngine(protocol: testProtocol, area_cm2: area)
                if let rigDescription { try check(testProtocol, plan: engine.plan, on: rigDescription, file: file) }
                results.append(
                    ValidationResult(
                        file: file, ok: true, protocol_name: testProtocol.name, steps: engine.plan.steps.count,
                        area_cm2: area))
                if !json {
                    print(
                        "ok: \(file): '\(testProtocol.name)', \(engine.plan.steps.count) steps at "
                            + "\(formatNumber(area)) cm2")
                }
            } catch let error as EngineSetupError {
                results.append(ValidationResult(file: file, ok: false, error: error.description(file: file)))
                printError(error.description(file: file))
            } catch {
                results.append(ValidationResult(file: file, ok: false, error: "\(error)"))
                printError("\(error)")
            }
        }
        if json { try printJSON(results) }
        if results.contains(where: { !$0.ok }) { throw ExitCode(1) }
    }
}

/// One file's result as `cellrig validate --json` prints it.
struct ValidationResult: Encodable {
    var file: String
    var ok: Bool
    var protocol_name: String?
    var steps: Int?
    var area_cm2: Double?
    var error: String?
}

extension Validate {
    /// What a run start on `rig` would refuse without opening anything: potentials beyond its voltage limit and
    /// currents beyond its current limit.
    func check(_ testProtocol: TestProtocol, plan: StepPlan, on rig: RigDescription, file: String) throws {
        do {
            let compliance = rig.limits.voltage_V
            try TestProtocol.checkPotentials(
                testProtocol.steps, within: -compliance...compliance,
                limitName: "rig '\(rig.id)''s voltage limit (limits.voltage)")
        } catch {
            throw CommandFailure(error.description(file: file))
        }
        if let largest = plan.steps.map({ abs($0.current_A) }).max(), largest > rig.limits.current_A {
            throw CommandFailure(
                "\(file): the plan needs \(formatCurrent(largest)) but rig '\(rig.id)' is limited to "
                    + "\(formatCurrent(rig.limits.current_A)) (limits.current)")
        }
    }
}

/// `cellrig plan FILE --area-cm2 A`: the expanded step list with currents and durations.
struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the steps a protocol expands to for an electrode area: currents, capacities, durations.")

    @Argument(help: "Protocol file.")
    var file: String

    @Option(help: "Working-electrode area in cm2 (0.196 for a 5 mm disc).")
    var areaCm2: Double

    @Flag(help: "Print a JSON array, one object per step.")
    var json = false

    @OptionGroup var parameterOptions: ParameterOptions

    func run() throws {
        let testProtocol = try ProtocolFile.parse(
            try readText(file), file: file, parameters: try parameterOptions.parameters())
        let plan: StepPlan
        do {
            plan = try StepPlan(expanding: testProtocol, area_cm2: areaCm2)
        } catch {
            throw CommandFailure(error.description(file: file))
        }
        if json {
            try printJSON(plan.steps.map(PlanRow.init))
        } else {
            print(PlanRendering.text(plan, protocolName: testProtocol.name))
        }
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
