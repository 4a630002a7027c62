import ArgumentParser
import Control
import Domain
import Engine
import Foundation
import ProtocolFiles
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

    func run() throws {
        var failures = 0
        for file in files {
            do {
                let text = try readText(file)
                let testProtocol = try ProtocolFile.parse(
                    text, file: file, parameters: try parameterOptions.parameters())
                let engine = try RunEngine(protocol: testProtocol, area_cm2: areaCm2)
                print(
                    "ok: \(file): '\(testProtocol.name)', \(engine.plan.steps.count) steps at \(formatNumber(areaCm2)) cm2"
                )
            } catch {
                failures += 1
                printError("\(error)")
            }
        }
        if failures > 0 { throw ExitCode(1) }
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
            throw CommandFailure("\(file): \(error.message)")
        }
        if json {
            try printJSON(plan.steps.map(PlanRow.init))
        } else {
            print(PlanRendering.text(plan, protocolName: testProtocol.name))
        }
    }
}

/// `cellrig export RUN --csv FILE [--impedance FILE]`: a run's samples (and impedance spectra) as CSV, read
/// straight from the database.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a run's samples to CSV (the format `cellrig replay` reads), and its impedance spectra.",
        discussion: "Reads the database read-only; the daemon may keep running and writing.")

    @Argument(help: "Run id.")
    var runID: Int64

    @Option(help: "CSV file for the samples ('-' for standard output).")
    var csv: String?

    @Option(
        help: ArgumentHelp(
            "CSV file for the impedance spectra ('-' for standard output).",
            discussion: "Columns: step, cycle, point, time_s, frequency_Hz, z_real_Ohm, z_imag_Ohm."))
    var impedance: String?

    @Option(
        help:
            "The daemon's database (default: asked from the daemon, else $CELLRIG_DATABASE or \(defaultDatabasePath)).")
    var database: String?

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard csv != nil || impedance != nil else {
            throw ValidationError("give --csv FILE for the samples, --impedance FILE for the spectra, or both")
        }
    }

    func run() async throws {
        let path = try databasePath()
        let store = try RunStore(readOnlyPath: path)
        guard try store.run(id: runID) != nil else { throw CommandFailure("no run \(runID) in \(path)") }
        if let csv { try exportSamples(store, to: csv) }
        if let impedance { try exportSpectra(store, to: impedance) }
    }

    private func exportSpectra(_ store: RunStore, to file: String) throws {
        let points = try store.spectra(runID: runID)
        var text = "step,cycle,point,time_s,frequency_Hz,z_real_Ohm,z_imag_Ohm\n"
        var pointInStep = 0
        for (index, stored) in points.enumerated() {
            pointInStep = index > 0 && points[index - 1].stepIndex == stored.stepIndex ? pointInStep + 1 : 0
            let point = stored.point
            text += "\(stored.stepIndex),\(stored.cycle),\(pointInStep),\(point.time_s),\(point.frequency_Hz),"
            text += "\(point.real_Ohm),\(point.imaginary_Ohm)\n"
        }
        if file == "-" {
            print(text, terminator: "")
            return
        }
        guard FileManager.default.createFile(atPath: file, contents: Data(text.utf8)) else {
            throw CommandFailure("\(file): cannot create the file")
        }
        let spectra = Set(points.map(\.stepIndex)).count
        printError("wrote \(points.count) impedance points (\(spectra) spectra) of run \(runID) to \(file)")
    }

    private func exportSamples(_ store: RunStore, to csv: String) throws {
        let output = CSVWriter(header: CSVWriter.sampleColumns)
        var count = 0
        if csv == "-" {
            try store.forEachSample(runID: runID) { sample in
                print(output.row(for: sample), terminator: "")
                count += 1
            }
        } else {
            guard FileManager.default.createFile(atPath: csv, contents: nil),
                let handle = FileHandle(forWritingAtPath: csv)
            else {
                throw CommandFailure("\(csv): cannot create the file")
            }
            defer { try? handle.close() }
            var chunk = output.headerLine
            try store.forEachSample(runID: runID) { sample in
                chunk += output.row(for: sample)
                count += 1
                if chunk.utf8.count > 1 << 20 {
                    try handle.write(contentsOf: Data(chunk.utf8))
                    chunk = ""
                }
            }
            try handle.write(contentsOf: Data(chunk.utf8))
            printError("wrote \(count) samples of run \(runID) to \(csv)")
        }
    }

    private func databasePath() throws -> String {
        resolveDatabasePath(database, connection: connection)
    }
}

/// Writes samples as CSV rows with full-precision numbers (Swift's shortest round-trip form).
struct CSVWriter {
    static let sampleColumns = [
        "seq", "time_s", "current_A", "voltage_V", "voltage_we_re_V", "pressure_MPa", "temperature_C", "cycle", "step",
    ]
    let header: [String]

    var headerLine: String { header.joined(separator: ",") + "\n" }

    func row(for recorded: RecordedSample) -> String {
        let sample = recorded.sample
        let fields: [String] = [
            String(recorded.seq), String(sample.time_s), String(sample.current_A), String(sample.voltage_V),
            sample.voltageWERE_V.map { String($0) } ?? "", sample.pressure_MPa.map { String($0) } ?? "",
            sample.temperature_C.map { String($0) } ?? "", String(recorded.cycle), String(recorded.stepIndex),
        ]
        return fields.joined(separator: ",") + "\n"
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
