import ArgumentParser
import Domain
import Foundation
import ImpedanceAnalysis
import Replay
import Reports
import Storage

/// `cellrig fit RUN|CSV --circuit C`: equivalent-circuit fits of impedance spectra, offline.
struct Fit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fit an equivalent circuit to impedance spectra: a stored run's impedance steps, or a CSV.",
        discussion: """
            INPUT is a run id in the database (--database; read-only unless --save) or a CSV with frequency_Hz, \
            z_real_Ohm and z_imag_Ohm columns (the output of `cellrig export --impedance`). Circuits are written as \
            R0-p(R1,CPE1)-p(R2,CPE2): elements R, C, L, CPE, W; '-' in series, p(a,b) in parallel. Resistances are \
            also given in Ohm cm2; the interfacial resistance per interface is the area-specific resistance divided \
            by the interfaces in series (2 in a symmetric two-electrode cell). See docs/reports-and-fitting.md.
            """)

    @Argument(help: "A stored run id, or a CSV file of impedance points.")
    var input: String

    @Option(help: "The circuit to fit (default for a stored run: the one its protocol names for each step).")
    var circuit: String?

    @Option(help: "Fit only this impedance step (its index in the run).")
    var step: Int?

    @Option(help: "Electrode area in cm2 (default: the run's, or the CSV's metadata).")
    var areaCm2: Double?

    @Option(help: "Interfaces in series in the measured impedance: 2 for a symmetric cell, 1 for WE vs RE.")
    var interfaces: Int?

    @Option(help: "The resistor that is the interface (default: the protocol's, else the lowest-frequency arc).")
    var interface: String?

    @Option(help: "Residual weighting: modulus or proportional (default: the protocol's, else modulus).")
    var weighting: FitWeighting?

    @Flag(help: "Print JSON: one object per spectrum with the step and the whole fit.")
    var json = false

    @Flag(help: "Store the fits in the run's impedance_fits table (opens the database for writing).")
    var save = false

    @Option(
        help:
            "The daemon's database (default: asked from the daemon, else $CELLRIG_DATABASE or \(defaultDatabasePath)).")
    var database: String?

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if let interfaces, !(1...2).contains(interfaces) {
            throw ValidationError("--interfaces \(interfaces): give 2 for a symmetric cell or 1 for WE vs RE")
        }
        if let areaCm2, !(areaCm2 > 0 && areaCm2.isFinite) {
            throw ValidationError("--area-cm2 \(areaCm2) is not a positive area")
        }
    }

    func run() throws {
        var chosenCircuit: EquivalentCircuit?
        if let circuit {
            do {
                chosenCircuit = try EquivalentCircuit(parsing: circuit)
            } catch {
                throw CommandFailure("--circuit: \(error.description); allowed: \(CircuitSyntaxError.allowed)")
            }
        }
        let jobs = try loadJobs(defaultCircuit: chosenCircuit)
        guard !jobs.isEmpty else {
            throw CommandFailure(
                step.map { "\(input) has no impedance step \($0)" } ?? "\(input) has no impedance spectra")
        }
        var results: [FitReport] = []
        var failures = 0
        let path = databasePath
        var writer: RunStore?
        for job in jobs {
            guard let specification = job.specification else {
                printError(
                    "step \(job.step.map(String.init) ?? "-"): no circuit to fit; give one with --circuit 'p(R1,CPE1)-p(R2,CPE2)'"
                )
                failures += 1
                continue
            }
            let options = ImpedanceFitOptions(
                weighting: weighting ?? specification.weighting, area_cm2: job.area_cm2,
                interfacesInSeries: interfaces ?? job.interfacesInSeries,
                interfaceElement: interface ?? specification.interfaceElement)
            do {
                let fit = try ImpedanceFitter.fit(job.points, circuit: specification.circuit, options: options)
                results.append(FitReport(run_id: job.runID, step: job.step, cycle: job.cycle, fit: fit))
                if save, let runID = job.runID, let step = job.step {
                    writer = try writer ?? RunStore(path: path)
                    try writer!.saveImpedanceFit(fit, runID: runID, stepIndex: step)
                }
            } catch let error as ImpedanceFitError {
                printError("step \(job.step.map(String.init) ?? "-"): \(error.message)")
                failures += 1
            }
        }
        if json {
            try printJSON(results)
        } else {
            for (index, report) in results.enumerated() {
                if index > 0 { print("") }
                print(FitText.describe(report.fit, heading: heading(report, points: jobs[index].points)))
            }
        }
        if save, !results.isEmpty, results.first?.run_id != nil {
            printError("stored \(results.count) fit(s) in \(path)")
        }
        if failures > 0 { throw ExitCode(1) }
    }

    private var databasePath: String { resolveDatabasePath(database, connection: connection) }

    private struct Job {
        var runID: Int64?
        var step: Int?
        var cycle: Int?
        var points: [ImpedancePoint]
        var specification: ImpedanceFitSpecification?
        var area_cm2: Double?
        var interfacesInSeries: Int
    }

    private func loadJobs(defaultCircuit: EquivalentCircuit?) throws -> [Job] {
        let fallback = defaultCircuit.map { ImpedanceFitSpecification(circuit: $0) }
        if let runID = Int64(input), !FileManager.default.fileExists(atPath: input) {
            let databasePath = databasePath
            let store = try RunStore(readOnlyPath: databasePath)
            guard let run = try store.run(id: runID) else { throw CommandFailure("no run \(runID) in \(databasePath)") }
            let plan = try store.plan(runID: runID)
            let grouped = Dictionary(grouping: try store.spectra(runID: runID), by: \.stepIndex)
            return grouped.keys.sorted().filter { step == nil || $0 == step }.map { index in
                let planned = plan?.steps.first { $0.index == index }?.impedanceFit
                return Job(
                    runID: runID, step: index, cycle: grouped[index]!.first?.cycle,
                    points: grouped[index]!.map(\.point), specification: fallback ?? planned,
                    area_cm2: areaCm2 ?? run.area_cm2, interfacesInSeries: run.threeElectrode ? 1 : 2)
            }
        }
        let file: (metadata: CSVMetadata, spectra: [ImpedanceCSVSpectrum])
        do {
            file = try ImpedanceCSVReader.read(try readText(input, limit: 64 << 20), source: input)
        } catch let error as SampleCSVError {
            throw CommandFailure(error.description)
        }
        return file.spectra.filter { step == nil || $0.step == step }.map { spectrum in
            Job(
                runID: nil, step: spectrum.step, cycle: spectrum.cycle, points: spectrum.points,
                specification: fallback, area_cm2: areaCm2 ?? file.metadata.area_cm2,
                interfacesInSeries: file.metadata.threeElectrode == true ? 1 : 2)
        }
    }

    private func heading(_ report: FitReport, points: [ImpedancePoint]) -> String {
        var text = report.run_id.map { "run \($0), " } ?? "\(input), "
        text += report.step.map { "step \($0)" } ?? "spectrum"
        if let cycle = report.cycle, cycle > 0 { text += " (cycle \(cycle))" }
        let frequencies = points.map(\.frequency_Hz)
        text += ": \(points.count) points, \(FitText.frequency(frequencies.max() ?? 0)) to "
        text += FitText.frequency(frequencies.min() ?? 0)
        return text
    }
}

extension FitWeighting: ExpressibleByArgument {}

/// One fit as `cellrig fit --json` prints it.
struct FitReport: Encodable {
    var run_id: Int64?
    var step: Int?
    var cycle: Int?
    var fit: ImpedanceFitResult
}

/// The human-readable form of a fit: parameters with error bars, the interface in Ohm cm2, goodness and lin-KK.
enum FitText {
    static func describe(_ fit: ImpedanceFitResult, heading: String) -> String {
        var lines = [heading, "  circuit \(fit.circuit), \(fit.weighting.rawValue) weighting"]
        let width = max(fit.parameters.map(\.name.count).max() ?? 0, 6)
        for parameter in fit.parameters {
            var line = "  " + parameter.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
            line += valueWithError(parameter.value, parameter.standardError) + " \(parameter.unit)"
            if let value = parameter.areaSpecificValue, let unit = parameter.areaSpecificUnit {
                line += "    " + valueWithError(value, parameter.areaSpecificStandardError) + " \(unit)"
            }
            lines.append(line)
        }
        if let interface = fit.interface {
            var line =
                "  interface \(interface.element): "
                + valueWithError(
                    interface.resistance_Ohm, interface.standardError_Ohm) + " Ohm"
            if let asr = interface.areaSpecific_Ohm_cm2, let per = interface.perInterface_Ohm_cm2 {
                line += "; ASR \(formatNumber(asr, significantDigits: 4)) Ohm cm2; per interface "
                line += valueWithError(per, interface.perInterfaceStandardError_Ohm_cm2) + " Ohm cm2"
                line += interface.interfacesInSeries == 2 ? " (symmetric cell: ASR / 2)" : " (one interface)"
            }
            lines.append(line)
        }
        for arc in fit.arcs {
            var line =
                "  arc \(arc.resistor) || \(arc.capacitiveElement): apex \(frequency(arc.characteristicFrequency_Hz))"
            line += ", C_eff \(formatNumber(arc.effectiveCapacitance_F, significantDigits: 3)) F"
            if let area = fit.area_cm2 {
                line += " (\(formatNumber(arc.effectiveCapacitance_F / area, significantDigits: 3)) F/cm2)"
            }
            lines.append(line)
        }
        let check = fit.kramersKronig
        lines.append(
            "  reduced chi-square \(formatNumber(fit.reducedChiSquare, significantDigits: 3)) over \(fit.degreesOfFreedom)"
                + " degrees of freedom; \(fit.converged ? "converged" : "not converged") in \(fit.iterations) iteration\(fit.iterations == 1 ? "" : "s")"
        )
        lines.append(
            "  lin-KK: \(check.elementCount) RC elements, residuals \(formatNumber(check.residualRMS * 100, significantDigits: 3)) % RMS, "
                + "max \(formatNumber(check.residualMaximum * 100, significantDigits: 3)) %: "
                + (check.isConsistent ? "consistent" : "NOT consistent"))
        for warning in fit.warnings { lines.append("  warning: \(warning)") }
        return lines.joined(separator: "\n")
    }

    static func valueWithError(_ value: Double, _ error: Double?) -> String {
        FitTextFormat.valueWithError(value, error)
    }

    static func frequency(_ hertz: Double) -> String {
        FitTextFormat.frequency(hertz)
    }
}
