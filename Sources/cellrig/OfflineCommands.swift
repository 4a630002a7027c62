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

    @Option(
        help: ArgumentHelp(
            "Also check the protocols against this rig file: potentials within its voltage limit, currents within its "
                + "current limit, at its electrode area (instead of --area-cm2).", valueName: "rig-file"))
    var rig: String?

    func run() throws {
        var failures = 0
        let rigDescription = try rig.map { try RigFile.parse(try readText($0), file: $0) }
        for file in files {
            do {
                let text = try readText(file)
                let testProtocol = try ProtocolFile.parse(
                    text, file: file, parameters: try parameterOptions.parameters())
                let area = rigDescription?.cell.electrodeArea_cm2 ?? areaCm2
                let engine = try RunEngine(protocol: testProtocol, area_cm2: area)
                if let rigDescription { try check(testProtocol, plan: engine.plan, on: rigDescription, file: file) }
                print(
                    "ok: \(file): '\(testProtocol.name)', \(engine.plan.steps.count) steps at \(formatNumber(area)) cm2"
                )
            } catch let error as EngineSetupError {
                failures += 1
                printError(error.description(file: file))
            } catch {
                failures += 1
                printError("\(error)")
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }
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

/// `cellrig export RUN --csv FILE [--impedance FILE] [--bdf FILE]`: a run's samples (and impedance spectra) as
/// CSV, read straight from the database.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a run's samples to CSV (the format `cellrig replay` reads), its impedance spectra, or BDF.",
        discussion: """
            Reads the database read-only; the daemon may keep running and writing. The CSV files start with a \
            metadata block of '# key: value' lines (area, protocol and its hash, parameters, every step's kind and \
            current density, the protocol text) that `cellrig replay` and `cellrig fit` read back and that pandas \
            skips with comment='#'. Numbers are the shortest text that reads back exactly. See \
            docs/reports-and-fitting.md.
            """)

    @Argument(help: "Run id.")
    var runID: Int64

    @Option(
        help: ArgumentHelp(
            "CSV file for the samples ('-' for standard output).",
            discussion: "Columns: \(SampleCSVWriter.columns.joined(separator: ", ")); flags joined by '|'."))
    var csv: String?

    @Option(
        help: ArgumentHelp(
            "CSV file for the impedance spectra ('-' for standard output).",
            discussion: "Columns: step, cycle, point, time_s, frequency_Hz, z_real_Ohm, z_imag_Ohm."))
    var impedance: String?

    @Option(
        help: ArgumentHelp(
            "Battery Data Format file for the samples ('-' for standard output), e.g. run-1.bdf.csv.",
            discussion: "Columns: \(BDFWriter.columns.joined(separator: ", "))."))
    var bdf: String?

    @Option(
        help:
            "The daemon's database (default: asked from the daemon, else $CELLRIG_DATABASE or \(defaultDatabasePath)).")
    var database: String?

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard csv != nil || impedance != nil || bdf != nil else {
            throw ValidationError(
                "give --csv FILE for the samples, --impedance FILE for the spectra, --bdf FILE, or several")
        }
        let stdout = [csv, impedance, bdf].filter { $0 == "-" }.count
        if stdout > 1 { throw ValidationError("only one of --csv, --impedance and --bdf can write to standard output") }
    }

    func run() async throws {
        let path = resolveDatabasePath(database, connection: connection)
        let store = try RunStore(readOnlyPath: path)
        guard let run = try store.run(id: runID) else { throw CommandFailure("no run \(runID) in \(path)") }
        var metadata = try Self.metadata(store, run: run)
        if let csv {
            metadata.format = "cellrig-samples 1"
            let writer = SampleCSVWriter()
            let count = try write(to: csv, head: metadata.text + writer.headerLine, store: store, row: writer.row)
            if csv != "-" { printError("wrote \(count) samples of run \(runID) to \(csv)") }
        }
        if let bdf {
            let writer = BDFWriter()
            let count = try write(to: bdf, head: writer.headerLine, store: store, row: writer.row)
            if bdf != "-" { printError("wrote \(count) samples of run \(runID) in BDF to \(bdf)") }
        }
        if let impedance {
            metadata.format = "cellrig-impedance 1"
            try exportSpectra(store, head: metadata.text, to: impedance)
        }
    }

    /// The metadata block of a run's exports.
    static func metadata(_ store: RunStore, run: StoredRun) throws -> CSVMetadata {
        let recorded = try store.recordedProtocol(runID: run.id)
        var metadata = CSVMetadata()
        metadata.runID = run.id
        metadata.protocolName = run.protocolName
        metadata.protocolFile = run.protocolFile
        metadata.protocolSHA256 = run.protocolSHA256
        metadata.parameters = recorded?.parameters ?? [:]
        metadata.area_cm2 = run.area_cm2
        metadata.threeElectrode = run.threeElectrode
        metadata.cellLabel = run.cellLabel
        metadata.metal = recorded?.cell.metal.rawValue
        metadata.metalThickness_um = recorded?.cell.metalThickness_um
        metadata.rigID = run.rigID
        metadata.softwareVersion = run.softwareVersion
        metadata.steps = try store.steps(runID: run.id).map {
            ExportedStep(
                index: $0.index, cycle: $0.cycle, kind: $0.kind, current_density_mA_cm2: $0.currentDensity_mA_cm2)
        }
        metadata.protocolText = recorded?.text ?? run.protocolText
        return metadata
    }

    /// Streams every sample through `row` after `head`, to a file or standard output, in chunks of about 1 MiB.
    private func write(
        to file: String, head: String, store: RunStore, row: (RecordedSample) -> String
    ) throws -> Int {
        var handle = FileHandle.standardOutput
        if file != "-" {
            guard FileManager.default.createFile(atPath: file, contents: nil),
                let opened = FileHandle(forWritingAtPath: file)
            else {
                throw CommandFailure("\(file): cannot create the file")
            }
            handle = opened
        }
        defer { if file != "-" { try? handle.close() } }
        var chunk = head
        var count = 0
        try store.forEachSample(runID: runID) { sample in
            chunk += row(sample)
            count += 1
            if chunk.utf8.count > 1 << 20 {
                try handle.write(contentsOf: Data(chunk.utf8))
                chunk = ""
            }
        }
        try handle.write(contentsOf: Data(chunk.utf8))
        return count
    }

    private func exportSpectra(_ store: RunStore, head: String, to file: String) throws {
        let points = try store.spectra(runID: runID)
        var text = head + "step,cycle,point,time_s,frequency_Hz,z_real_Ohm,z_imag_Ohm\n"
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
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
