import Domain
import Foundation
import ImpedanceAnalysis
import Storage

/// Renders a ``RunReport`` as one self-contained HTML page: inline CSS and SVG, no scripts, no network; readable
/// offline and printable on A4.
public enum ReportHTML {
    /// The page; with `refreshSeconds`, a run that is still going has the browser load it again after that many
    /// seconds (an HTML meta refresh, no script). A page of a run that has ended never refreshes.
    public static func render(_ report: RunReport, refreshSeconds: Int? = nil) -> String {
        var page = Page()
        let figures = ReportFigures(report: report)
        let run = report.run
        page.add("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        if let refreshSeconds, !run.state.isFinal {
            page.add("<meta http-equiv=\"refresh\" content=\"\(max(1, refreshSeconds))\">")
        }
        page.add("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        page.add("<title>\(e("Run \(run.id): \(run.protocolName)")) (cellrig report)</title>")
        page.add("<style>\(stylesheet)</style></head><body>")
        page.add("<header><h1>Run \(run.id): \(e(run.protocolName))</h1>")
        page.add(
            "<p class=\"subtitle\">\(e(report.cell?.label ?? run.cellLabel ?? "unlabelled cell")) on rig "
                + "\(e(run.rigID)), \(e(formatNumber(run.area_cm2))) cm\u{00B2}; \(e(run.state.rawValue)); "
                + "started \(e(timestamp(run.createdAt)))" + (run.endedAt.map { ", ended \(e(timestamp($0)))" } ?? "")
                + "</p></header>")
        page.add(summary(report))
        var number = 0
        func figure(_ svg: SVGFigure?, caption: String) {
            guard let svg else { return }
            number += 1
            page.add("<figure>\(svg.render())<figcaption><b>Fig. \(number).</b> \(caption)</figcaption></figure>")
        }
        figure(figures.cycling(), caption: cyclingCaption(report))
        figure(
            figures.aroundStop(),
            caption:
                "The stretch before the stop at full resolution: the estimated onset (dashed orange), the stop (red "
                + "line) and the sample that tripped it (red dot); dotted grey lines are step boundaries.")
        figure(figures.stripping(), caption: strippingCaption(report))
        for spectrum in report.spectra {
            number += 1
            let (nyquist, bode) = figures.impedance(spectrum)
            page.add("<figure class=\"impedance\"><div class=\"pair\">\(nyquist.render())\(bode.render())</div>")
            page.add(
                "<figcaption><b>Fig. \(number).</b> Impedance of step \(spectrum.stepIndex)"
                    + (spectrum.cycle > 0 ? " (cycle \(spectrum.cycle))" : "")
                    + ": (a) Nyquist plot, area-specific (Z times \(e(formatNumber(run.area_cm2))) cm\u{00B2}), equal "
                    + "scales; (b) modulus and (c) phase against frequency. Circles are measured, the line is the "
                    + "fitted circuit.</figcaption></figure>")
            page.add(fitTable(spectrum, area: run.area_cm2))
        }
        figure(
            figures.conditions(),
            caption: "Stack pressure and temperature as recorded with every sample (after calibration).")
        page.add("<h2>Events</h2>")
        figure(
            figures.timeline(),
            caption:
                "Timeline: steps (blue plating, vermillion stripping, purple impedance, grey rest), warnings "
                + "(triangles) and verdicts (red diamond: stop; blue: pause or step end; black square: fault).")
        page.add(eventTable(report))
        page.add(provenance(report))
        page.add(
            "<footer>Made by cellrig \(e(CellRigVersion.current)) from \(e(String(report.sampleCount))) stored "
                + "samples; plots keep each pixel column's first, lowest, highest and last sample, so spikes "
                + "show.</footer>")
        page.add("</body></html>")
        return page.text
    }

    private struct Page {
        var text = ""
        mutating func add(_ fragment: String) {
            text += fragment
            text += "\n"
        }
    }

    static func e(_ text: String) -> String { SVGWriter.escape(text) }

    private static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false))
    }

    private static func duration(_ seconds: Double) -> String {
        let unit = TimeUnit.suited(to: abs(seconds))
        return formatNumber(seconds / unit.seconds, significantDigits: 4) + " " + unit.name
    }

    // MARK: - Summary

    private static func summary(_ report: RunReport) -> String {
        var rows: [(String, String)] = []
        rows.append(("State", report.run.state.rawValue + (report.run.endReason.map { ": \($0)" } ?? "")))
        if let ccd = report.run.ccd_mA_cm2 {
            rows.append(("Critical current density", "\(formatNumber(ccd)) mA cm\u{207B}\u{00B2}"))
        }
        if let verdict = report.stopVerdict {
            var text = "\(verdict.criterion) at \(duration(verdict.time_s - report.origin_s)): \(verdict.reason)"
            if let onset = verdict.onsetTime_s { text += "; onset estimated at \(duration(onset - report.origin_s))" }
            rows.append(("Stop verdict", text))
        }
        if let reaction = report.run.reactionTime_s {
            rows.append(
                ("Cell off after the tripping sample", "\(formatNumber(reaction * 1000, significantDigits: 3)) ms"))
        }
        for spectrum in report.spectra {
            guard let interface = spectrum.fit?.interface, let per = interface.perInterface_Ohm_cm2 else { continue }
            rows.append(
                (
                    "Interfacial resistance (step \(spectrum.stepIndex))",
                    FitTextFormat.valueWithError(per, interface.perInterfaceStandardError_Ohm_cm2)
                        + " \u{03A9} cm\u{00B2} per interface (\(interface.element); "
                        + (interface.interfacesInSeries == 2 ? "symmetric cell, ASR / 2)" : "one interface)")
                ))
        }
        let ends = report.strips.compactMap { strip in strip.endValue_V.map { (strip.cycle, abs($0) * 1000) } }
        if let first = ends.first, let last = ends.last, ends.count >= 2 {
            rows.append(
                (
                    "End-of-strip polarisation",
                    "\(formatNumber(first.1, significantDigits: 3)) mV (cycle \(first.0)) to "
                        + "\(formatNumber(last.1, significantDigits: 3)) mV (cycle \(last.0))"
                ))
        }
        rows.append(
            (
                "Samples",
                "\(report.sampleCount) over \(duration((report.timeRange.map { $0.upperBound - $0.lowerBound }) ?? 0))"
            ))
        return "<section class=\"summary\"><table>"
            + rows.map { "<tr><th>\(e($0.0))</th><td>\(e($0.1))</td></tr>" }.joined() + "</table></section>"
    }

    private static func cyclingCaption(_ report: RunReport) -> String {
        var text =
            "(a) Cell voltage" + (report.voltageWERE.isEmpty ? "" : " and WE\u{2212}RE voltage")
            + " and (b) current density (positive strips the working electrode) against cell time; alternate "
            + "cycles are shaded and numbered along the top"
        if report.steps.contains(where: { $0.kind == StepKind.impedance.rawValue }) {
            text += ", impedance steps in purple"
        }
        if let verdict = report.stopVerdict {
            text += ". The run stopped on \(e(verdict.criterion)) (red line)"
            if verdict.onsetTime_s != nil { text += "; the dashed orange line is the estimated onset" }
        }
        return text + "."
    }

    private static func strippingCaption(_ report: RunReport) -> String {
        let densities = Set(report.strips.map { formatNumber($0.currentDensity_mA_cm2) })
        return "(a) Every strip overlaid, first cycle dark purple to last yellow"
            + (densities.count == 1 ? " (\(e(densities.first!)) mA cm\u{207B}\u{00B2})" : "")
            + "; (b) the polarisation at the end of each strip against cycle. "
            + (report.stripsUseWERE
                ? "WE\u{2212}RE isolates the stripped working electrode: a rise within a strip and from cycle to "
                    + "cycle is voiding." : "Cell voltage (no reference electrode).")
    }

    // MARK: - Fit table

    private static func fitTable(_ spectrum: SpectrumReport, area: Double) -> String {
        guard let fit = spectrum.fit else {
            return "<p class=\"note\">\(e(spectrum.fitProblem ?? "No fit."))</p>"
        }
        var html = "<table class=\"fit\"><caption>Fit of \(e(fit.circuit.description)), \(e(fit.weighting.rawValue)) "
        html +=
            "weighting" + (spectrum.fitSource == .computed ? ", fitted for this report (not stored)" : ", as stored")
        html += "</caption><tr><th>Parameter</th><th>Value</th><th>Unit</th><th>Per area</th><th>Unit</th></tr>"
        for parameter in fit.parameters {
            html += "<tr><td>\(e(parameter.name))\(parameter.atBound ? " (at bound)" : "")</td>"
            html += "<td class=\"n\">\(e(FitTextFormat.valueWithError(parameter.value, parameter.standardError)))</td>"
            html += "<td>\(e(parameter.unit))</td>"
            if let value = parameter.areaSpecificValue {
                html +=
                    "<td class=\"n\">\(e(FitTextFormat.valueWithError(value, parameter.areaSpecificStandardError)))</td>"
                html += "<td>\(e(parameter.areaSpecificUnit ?? ""))</td></tr>"
            } else {
                html += "<td></td><td></td></tr>"
            }
        }
        html += "</table><ul class=\"fitnotes\">"
        if let interface = fit.interface, let per = interface.perInterface_Ohm_cm2 {
            html += "<li>Interface \(e(interface.element)): "
            html += e(FitTextFormat.valueWithError(per, interface.perInterfaceStandardError_Ohm_cm2))
            html += " \u{03A9} cm\u{00B2} per interface ("
            html += interface.interfacesInSeries == 2 ? "symmetric cell: R \u{00D7} area / 2" : "one interface"
            html += ").</li>"
        }
        for arc in fit.arcs {
            html += "<li>Arc \(e(arc.resistor)) \u{2225} \(e(arc.capacitiveElement)): apex "
            html += "\(e(FitTextFormat.frequency(arc.characteristicFrequency_Hz))), effective capacitance "
            html +=
                "\(e(formatNumber(arc.effectiveCapacitance_F / area, significantDigits: 3))) F cm\u{207B}\u{00B2}.</li>"
        }
        let check = fit.kramersKronig
        html += "<li>Reduced \u{03C7}\u{00B2} \(e(formatNumber(fit.reducedChiSquare, significantDigits: 3))) "
        html += "(\(fit.degreesOfFreedom) degrees of freedom). Lin-KK: \(check.elementCount) RC elements, residuals "
        html += "\(e(formatNumber(check.residualRMS * 100, significantDigits: 3))) % RMS: "
        html += check.isConsistent ? "consistent.</li>" : "<b>not consistent</b>.</li>"
        for warning in fit.warnings { html += "<li class=\"warning\">\(e(warning))</li>" }
        return html + "</ul>"
    }

    // MARK: - Events and provenance

    private static func eventTable(_ report: RunReport) -> String {
        var rows: [String] = []
        var warnings: [String: [RunEvent]] = [:]
        var stepEvents = 0
        for event in report.events {
            if event.kind == .stepStarted || event.kind == .stepEnded {
                stepEvents += 1
                continue
            }
            if let verdict = event.verdict, verdict.action == .warn {
                warnings[verdict.criterion, default: []].append(event)
                continue
            }
            rows.append(
                "<tr><td class=\"n\">\(e(duration(event.time_s - report.origin_s)))</td><td>\(e(event.kind.rawValue))</td>"
                    + "<td>\(e(event.message))</td></tr>")
        }
        for (criterion, events) in warnings.sorted(by: { $0.key < $1.key }) {
            let first = events.first!
            rows.append(
                "<tr><td class=\"n\">\(e(duration(first.time_s - report.origin_s)))</td><td>warnings</td><td>"
                    + "\(e(criterion)) \u{00D7}\(events.count), first: \(e(first.verdict?.reason ?? first.message))"
                    + (events.count > 1
                        ? "; last at \(e(duration(events.last!.time_s - report.origin_s)))" : "") + "</td></tr>")
        }
        return "<table class=\"events\"><tr><th>Cell time</th><th>Kind</th><th>What</th></tr>" + rows.joined()
            + "</table><p class=\"note\">\(stepEvents) step start and end events are not listed.</p>"
    }

    private static func provenance(_ report: RunReport) -> String {
        let run = report.run
        var rows: [(String, String)] = [
            ("Protocol", "\(run.protocolName) (\(run.protocolFile))"),
            ("Protocol SHA-256", run.protocolSHA256),
        ]
        if !report.parameters.isEmpty {
            rows.append(
                (
                    "Parameters",
                    report.parameters.sorted { $0.key < $1.key }.map { "\($0) = \($1)" }.joined(separator: ", ")
                ))
        }
        if let cell = report.cell {
            var text = "\(cell.metal.rawValue) | \(cell.electrolyte) | \(cell.metal.rawValue)"
            text += "; electrode \(formatNumber(cell.electrodeArea_cm2)) cm\u{00B2}"
            if let thickness = cell.electrolyteThickness_um {
                text += "; electrolyte \(formatNumber(thickness)) \u{00B5}m"
            }
            if let metal = cell.metalThickness_um { text += "; metal \(formatNumber(metal)) \u{00B5}m" }
            if let reference = cell.referenceArea_cm2 { text += "; reference \(formatNumber(reference)) cm\u{00B2}" }
            if let pressure = cell.stackPressure_MPa { text += "; \(formatNumber(pressure)) MPa" }
            if let temperature = cell.temperature_C { text += "; \(formatNumber(temperature)) \u{00B0}C" }
            if let pretreatment = cell.pretreatment { text += "; pretreatment: \(pretreatment)" }
            rows.append(("Cell", (cell.label.map { "\($0): " } ?? "") + text))
        }
        if let rig = report.rig {
            var text = "\(rig.id) (\(rig.name)); galvanostat driver \(rig.galvanostat.driverName); limits "
            text += "\(formatNumber(rig.limits.voltage_V)) V, \(formatNumber(rig.limits.current_A * 1000)) mA"
            if let sensor = rig.pressureSensor {
                let calibration = sensor.calibration
                text += "; pressure sensor: scale \(formatNumber(calibration.scale)), offset "
                text +=
                    "\(formatNumber(calibration.offset_N)) N, pellet \(formatNumber(calibration.pelletArea_cm2)) cm\u{00B2}"
            }
            rows.append(("Rig", text))
        }
        for instrument in report.instruments {
            rows.append(
                (
                    "Instrument (\(instrument.role))",
                    "\(instrument.model), firmware \(instrument.firmware), serial \(instrument.serialNumber), port \(instrument.port)"
                ))
        }
        rows.append(("Software", "cellrig \(run.softwareVersion)"))
        rows.append(("Three-electrode", run.threeElectrode ? "yes (WE\u{2212}RE recorded)" : "no"))
        if let plan = report.plan { rows.append(("Planned steps", "\(plan.steps.count)")) }
        var html = "<h2>Provenance</h2><table class=\"provenance\">"
        html += rows.map { "<tr><th>\(e($0.0))</th><td>\(e($0.1))</td></tr>" }.joined()
        html +=
            "</table><details><summary>Protocol text as recorded</summary><pre>\(e(report.protocolText))</pre></details>"
        return html
    }

    static let stylesheet = """
        body{font-family:'DejaVu Sans','Liberation Sans',Arial,Helvetica,sans-serif;color:#1a1a1a;max-width:1000px;\
        margin:24px auto;padding:0 16px;font-size:14px;line-height:1.45}
        h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ccc}
        .subtitle{color:#555;margin:0 0 16px}
        table{border-collapse:collapse;margin:8px 0}th,td{padding:3px 10px 3px 0;text-align:left;vertical-align:top}
        .summary th{color:#444;font-weight:600;white-space:nowrap}.summary{border:1px solid #ddd;padding:6px 12px;\
        background:#fafafa}
        figure{margin:22px 0;break-inside:avoid}svg.figure{width:100%;height:auto;display:block}
        figcaption{font-size:13px;color:#333;margin-top:4px}
        .pair{display:flex;gap:8px;align-items:center}.pair svg.figure{width:50%}
        table.fit td.n,table.events td.n{font-variant-numeric:tabular-nums;white-space:nowrap}
        table.fit{font-size:13px}table.fit caption{text-align:left;font-weight:600;padding-bottom:4px}
        table.fit th,table.events th,table.provenance th{border-bottom:1px solid #999}
        .fitnotes{font-size:13px;margin-top:4px}.warning{color:#8a3b00}.note{color:#555;font-size:13px}
        table.events{font-size:13px}.provenance th{white-space:nowrap;color:#444}
        pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:12px}
        footer{margin-top:28px;color:#777;font-size:12px}
        @page{size:A4;margin:14mm}
        @media print{body{margin:0;max-width:none;font-size:11pt}details{display:none}h2{break-after:avoid}}
        """
}

/// Number formatting shared by the report's tables and `cellrig fit`.
public enum FitTextFormat {
    /// `214.3 ± 0.21`: the value to the error's second significant digit.
    public static func valueWithError(_ value: Double, _ error: Double?) -> String {
        guard let error, error > 0, error.isFinite, value != 0 else {
            return formatNumber(value, significantDigits: 4) + (error == nil ? " (undetermined)" : "")
        }
        let digits = max(2, min(8, Int((log10(abs(value)) - log10(error)).rounded(.down)) + 2))
        return formatNumber(value, significantDigits: digits) + " \u{00B1} " + formatNumber(error, significantDigits: 2)
    }

    /// `7.63 kHz`.
    public static func frequency(_ hertz: Double) -> String {
        switch hertz {
        case 1e6...: "\(formatNumber(hertz / 1e6, significantDigits: 3)) MHz"
        case 1e3..<1e6: "\(formatNumber(hertz / 1e3, significantDigits: 3)) kHz"
        case 1..<1e3: "\(formatNumber(hertz, significantDigits: 3)) Hz"
        default: "\(formatNumber(hertz * 1e3, significantDigits: 3)) mHz"
        }
    }
}
