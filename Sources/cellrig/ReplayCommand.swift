import ArgumentParser
import Domain
import Engine
import Foundation
import ProtocolFiles
import Replay
import Storage

/// `cellrig replay INPUT [--protocol FILE] [--area-cm2 A]`: runs a protocol's stop criteria offline over recorded samples.
struct ReplayRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run a protocol's stop criteria over recorded samples (a stored run or a CSV file), offline.",
        discussion: """
            INPUT is a run id in the database (--database) or a CSV file ('-' for standard input) whose header \
            names its columns: time_s, current_A and voltage_V are required; voltage_we_re_V, pressure_MPa, \
            temperature_C and flags are optional; other columns are ignored (the output of `cellrig export --csv` \
            reads as is). A CSV's '# key: value' metadata block (written by export) gives the area, the protocol as \
            recorded and its parameter values, so `cellrig export N --csv - | cellrig replay -` labels results as \
            the stored run did; --protocol, --area-cm2 and --set override it. The samples drive the same engine as \
            a live run, so steps end where they ended live and the verdicts are the live ones.
            """)

    @Argument(help: "A stored run id, or a CSV file of samples ('-' for standard input).")
    var input: String

    @Option(
        name: .customLong("protocol"),
        help: "The protocol file whose steps and `stop:` criteria to apply (default for a stored run: the one it ran).")
    var protocolFile: String?

    @Option(help: "Working-electrode area in cm2 (default for a stored run: its recorded area).")
    var areaCm2: Double?

    @Flag(help: "Print one JSON object per line for every verdict other than continue, then a summary line.")
    var json = false

    @OptionGroup var parameterOptions: ParameterOptions

    @Option(help: "Anode metal (Li, Na, K), for the temperature and metal-inventory guards.")
    var metal: String?

    @Option(help: "Initial metal thickness of each electrode in um, for the metal-inventory guard.")
    var metalThicknessUm: Double?

    @Option(help: "The database holding stored runs (default: $CELLRIG_DATABASE or \(defaultDatabasePath)).")
    var database: String?

    func run() throws {
        let (samples, recordedArea, recorded, metadata) = try loadSamples()
        // Another protocol than the recorded one gets no inputs: they belong to the run's own course.
        let storedRun = protocolFile == nil ? try storedInputs() : nil
        guard let area = areaCm2 ?? recordedArea ?? metadata?.area_cm2 else {
            throw ValidationError("give the electrode area with --area-cm2 (the CSV has no area_cm2 metadata)")
        }
        var context = RunContext(
            metal: recorded?.cell.metal ?? metadata?.metal.flatMap(AnodeMetal.init(rawValue:)),
            metalThickness_um: metalThicknessUm ?? recorded?.cell.metalThickness_um ?? metadata?.metalThickness_um)
        if let metal {
            guard let chosen = AnodeMetal(rawValue: metal) else {
                throw ValidationError("--metal '\(metal)' is not one of Li, Na, K")
            }
            context.metal = chosen
        }
        // A stored run replays the protocol it ran, with its parameter values, unless told otherwise.
        let protocolText: String
        let protocolName: String
        var parameters: [String: String]
        if let protocolFile {
            protocolText = try readText(protocolFile)
            protocolName = protocolFile
            // The CSV's recorded values apply to the parameters this protocol declares.
            let declared =
                (try? ProtocolFile.parse(protocolText, file: protocolFile).parameters.keys).map(Set.init) ?? []
            parameters = (recorded?.parameters ?? metadata?.parameters ?? [:]).filter { declared.contains($0.key) }
            if let recordedHash = metadata?.protocolSHA256, recordedHash != SHA256.hex(protocolText) {
                printError(
                    "note: \(protocolFile) differs from the protocol the samples were recorded with "
                        + "(\(metadata?.protocolFile ?? "?"), sha256 \(recordedHash.prefix(12)))")
            }
        } else if let recorded {
            protocolText = recorded.text
            protocolName = "\(recorded.file) (as recorded with run \(input))"
            parameters = recorded.parameters
        } else if let metadata, let text = metadata.protocolText {
            protocolText = text
            protocolName = "\(metadata.protocolFile ?? "protocol") (as recorded in \(input))"
            parameters = metadata.parameters
        } else {
            throw ValidationError(
                "give the protocol to apply with --protocol FILE (the CSV has no protocol_text metadata)")
        }
        parameters.merge(try parameterOptions.parameters()) { $1 }
        let driver: ReplayDriver
        do {
            driver = try ReplayDriver(
                protocolText: protocolText, file: protocolName, parameters: parameters, area_cm2: area,
                context: context)
        } catch {
            throw CommandFailure(error.message)
        }
        // A stored run replays with what the live run had besides its samples: its pauses, resumes and restarted
        // steps and its spectra, so it takes the live run's course.
        let report =
            storedRun.map {
                ReplayDriver.replay(samples, engine: driver.engine, inputs: $0.inputs, spectra: $0.spectra)
            } ?? ReplayDriver.replay(samples, engine: driver.engine)
        if let metadata { warnAboutLabels(report, recorded: metadata.steps) }
        if json {
            try printLines(report)
        } else {
            printText(report, sampleCount: samples.count)
        }
    }

    /// The stored run's inputs and spectra, when the input is a run id.
    private func storedInputs() throws -> (inputs: [RunInput], spectra: [Int: [ImpedancePoint]])? {
        guard let runID = Int64(input), !FileManager.default.fileExists(atPath: input) else { return nil }
        let path = database ?? ProcessInfo.processInfo.environment["CELLRIG_DATABASE"] ?? defaultDatabasePath
        let store = try RunStore(readOnlyPath: path)
        let spectra = Dictionary(grouping: try store.spectra(runID: runID), by: \.stepIndex).mapValues {
            $0.map(\.point)
        }
        return (try store.inputs(runID: runID), spectra)
    }

    private func loadSamples() throws -> ([InstrumentSample], Double?, RecordedProtocol?, CSVMetadata?) {
        if let runID = Int64(input), !FileManager.default.fileExists(atPath: input) {
            let path = database ?? ProcessInfo.processInfo.environment["CELLRIG_DATABASE"] ?? defaultDatabasePath
            let store = try RunStore(readOnlyPath: path)
            guard let stored = try store.run(id: runID) else { throw CommandFailure("no run \(runID) in \(path)") }
            var samples: [InstrumentSample] = []
            try store.forEachSample(runID: runID) { samples.append($0.sample) }
            return (samples, stored.area_cm2, try store.recordedProtocol(runID: runID), nil)
        }
        let file: SampleCSVFile
        do {
            // Streamed: memory holds the samples and one line of text, never the whole file.
            file =
                input == "-"
                ? try SampleCSVFile(stream: SampleCSVStream(fileHandle: .standardInput, source: "standard input"))
                : try SampleCSVReader.read(contentsOfFile: input)
        } catch {
            throw CommandFailure(error.description)
        }
        return (file.samples, nil, nil, file.metadata.isEmpty ? nil : file.metadata)
    }

    /// Says on standard error where the replayed steps' current densities differ from the recorded ones.
    private func warnAboutLabels(_ report: ReplayReport, recorded: [ExportedStep]) {
        for step in report.steps {
            guard let original = recorded.first(where: { $0.index == step.step.index }) else { continue }
            let replayed = step.step.currentDensity_mA_cm2
            if abs(replayed - original.current_density_mA_cm2) > 1e-9 * max(1, abs(replayed)) {
                printError(
                    "note: step \(step.step.index) ran at \(formatNumber(original.current_density_mA_cm2)) mA/cm2 "
                        + "when recorded but replays at \(formatNumber(replayed)) mA/cm2; give the recorded values "
                        + "with --set")
                return
            }
        }
    }

    private func printText(_ report: ReplayReport, sampleCount: Int) {
        print(
            "replayed \(report.samplesUsed) of \(sampleCount) samples over \(report.steps.filter { $0.endTime_s != nil }.count) ended steps"
        )
        for entry in report.verdicts {
            let verdict = entry.verdict
            var line = "t=\(formatNumber(verdict.time_s)) s  \(verdict.criterion)  \(verdict.action.rawValue)"
            if let step = entry.stepIndex { line += "  step \(step)" }
            if let onset = verdict.onsetTime_s { line += "  onset \(formatNumber(onset)) s" }
            print(line + "  " + verdict.reason)
        }
        if let outcome = report.outcome {
            var line = "outcome: \(outcome.state.rawValue): \(outcome.reason)"
            if let ccd = outcome.ccd_mA_cm2 { line += "; CCD \(formatNumber(ccd)) mA/cm2" }
            print(line)
        } else {
            print("outcome: the samples ended before the run did")
        }
        for entry in report.results.voiding {
            print(
                "voiding at \(formatNumber(entry.currentDensity_mA_cm2)) mA/cm2: "
                    + (entry.voided ? "yes, \(entry.flaggedSteps) of \(entry.strippingSteps) strips" : "no")
                    + " (\(entry.strippingSteps) strips)")
        }
    }

    private func printLines(_ report: ReplayReport) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for entry in report.verdicts {
            let verdict = entry.verdict
            let line = VerdictLine(
                kind: "verdict", time_s: verdict.time_s, criterion: verdict.criterion, action: verdict.action.rawValue,
                reason: verdict.reason, onset_time_s: verdict.onsetTime_s,
                current_density_mA_cm2: verdict.currentDensity_mA_cm2, step: entry.stepIndex, cycle: entry.cycle,
                evidence: verdict.evidence)
            print(String(decoding: try encoder.encode(line), as: UTF8.self))
        }
        let summary = SummaryLine(
            kind: "summary", state: report.outcome?.state.rawValue, reason: report.outcome?.reason,
            ccd_mA_cm2: report.outcome?.ccd_mA_cm2, ccd_criterion: report.results.criticalCurrent?.criterion,
            samples_used: report.samplesUsed, samples_after_end: report.samplesAfterEnd, resumes: report.resumes,
            voiding: report.results.voiding.map {
                VoidingLine(
                    current_density_mA_cm2: $0.currentDensity_mA_cm2, voided: $0.voided, strips: $0.strippingSteps,
                    flagged_strips: $0.flaggedSteps)
            })
        print(String(decoding: try encoder.encode(summary), as: UTF8.self))
    }
}

private struct VerdictLine: Encodable {
    var kind: String
    var time_s: Double
    var criterion: String
    var action: String
    var reason: String
    var onset_time_s: Double?
    var current_density_mA_cm2: Double?
    var step: Int?
    var cycle: Int?
    var evidence: [String: Double]
}

private struct VoidingLine: Encodable {
    var current_density_mA_cm2: Double
    var voided: Bool
    var strips: Int
    var flagged_strips: Int
}

private struct SummaryLine: Encodable {
    var kind: String
    var state: String?
    var reason: String?
    var ccd_mA_cm2: Double?
    var ccd_criterion: String?
    var samples_used: Int
    var samples_after_end: Int
    /// Times the replay resumed a paused step (where the live run's operator or the samples say).
    var resumes: Int
    var voiding: [VoidingLine]
}
