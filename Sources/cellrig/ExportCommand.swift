import ArgumentParser
import Domain
import Foundation
import Replay
import Storage

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

    @OptionGroup var files: ExportFiles

    @Option(
        help:
            "The daemon's database (default: asked from the daemon, else $CELLRIG_DATABASE or \(defaultDatabasePath)).")
    var database: String?

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print JSON: the run and, per file written, its format, path and rows.")
    var json = false

    func validate() throws {
        if json, files.writesToStandardOutput {
            throw ValidationError("--json prints a summary on standard output; write the data to a file, not '-'")
        }
    }

    func run() async throws {
        let path = resolveDatabasePath(database, connection: connection)
        let written = try await files.export(
            runID: runID, from: try RunStore(readOnlyPath: path), describedAs: path, quiet: json)
        if json { try printJSON(ExportSummary(run_id: runID, database: path, files: written)) }
    }
}

/// The files an export writes, and the writing itself: `cellrig export` reads the daemon's database, `cellrig fleet
/// export` the lab's central one, through the same code.
struct ExportFiles: ParsableArguments {
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

    var writesToStandardOutput: Bool { [csv, impedance, bdf].contains("-") }

    func validate() throws {
        guard csv != nil || impedance != nil || bdf != nil else {
            throw ValidationError(
                "give --csv FILE for the samples, --impedance FILE for the spectra, --bdf FILE, or several")
        }
        let stdout = [csv, impedance, bdf].filter { $0 == "-" }.count
        if stdout > 1 { throw ValidationError("only one of --csv, --impedance and --bdf can write to standard output") }
    }

    /// Writes the files asked for from `source` and returns what it wrote; `location` names the source in messages.
    /// `quiet` leaves out the lines on standard error that say what was written.
    @discardableResult
    func export(runID: Int64, from source: any RunRecordSource, describedAs location: String, quiet: Bool = false)
        async throws -> [ExportSummary.File]
    {
        guard let run = try await source.run(id: runID) else { throw CommandFailure("no run \(runID) in \(location)") }
        var metadata = try await Self.metadata(source, run: run)
        var written: [ExportSummary.File] = []
        if let csv {
            metadata.format = "cellrig-samples 1"
            let writer = SampleCSVWriter()
            let count = try await write(
                to: csv, head: metadata.text + writer.headerLine, runID: runID, source: source, row: writer.row)
            written.append(.init(format: "samples-csv", file: csv, rows: count))
            if csv != "-", !quiet { printError("wrote \(count) samples of run \(runID) to \(csv)") }
        }
        if let bdf {
            let writer = BDFWriter()
            let count = try await write(to: bdf, head: writer.headerLine, runID: runID, source: source, row: writer.row)
            written.append(.init(format: "bdf", file: bdf, rows: count))
            if bdf != "-", !quiet { printError("wrote \(count) samples of run \(runID) in BDF to \(bdf)") }
        }
        if let impedance {
            metadata.format = "cellrig-impedance 1"
            let points = try await exportSpectra(source, runID: runID, head: metadata.text, to: impedance)
            written.append(.init(format: "impedance-csv", file: impedance, rows: points.count))
            if impedance != "-", !quiet {
                let spectra = Set(points.map(\.stepIndex)).count
                printError(
                    "wrote \(points.count) impedance points (\(spectra) spectra) of run \(runID) to \(impedance)")
            }
        }
        return written
    }

    /// The metadata block of a run's exports.
    static func metadata(_ source: any RunRecordSource, run: StoredRun) async throws -> CSVMetadata {
        let recorded = try await source.recordedProtocol(runID: run.id)
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
        metadata.steps = try await source.steps(runID: run.id).map {
            ExportedStep(
                index: $0.index, cycle: $0.cycle, kind: $0.kind, current_density_mA_cm2: $0.currentDensity_mA_cm2)
        }
        metadata.protocolText = recorded?.text ?? run.protocolText
        return metadata
    }

    /// Streams every sample through `row` after `head`, to a file or standard output, in chunks of about 1 MiB.
    private func write(
        to file: String, head: String, runID: Int64, source: any RunRecordSource, row: (RecordedSample) -> String
    ) async throws -> Int {
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
        try await source.forEachSample(runID: runID) { sample in
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

    /// Writes the spectra and returns the points written.
    private func exportSpectra(_ source: any RunRecordSource, runID: Int64, head: String, to file: String)
        async throws -> [StoredImpedancePoint]
    {
        let points = try await source.spectra(runID: runID)
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
        } else if !FileManager.default.createFile(atPath: file, contents: Data(text.utf8)) {
            throw CommandFailure("\(file): cannot create the file")
        }
        return points
    }
}

/// What `cellrig export --json` prints: the run and each file written.
struct ExportSummary: Encodable {
    struct File: Encodable {
        var format: String
        var file: String
        var rows: Int
    }

    var run_id: Int64
    var database: String
    var files: [File]
}
