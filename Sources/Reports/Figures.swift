import Domain
import Foundation
import ImpedanceAnalysis
import Storage

/// Colours that stay apart for colour-blind readers and in greyscale print (Okabe and Ito).
enum Palette {
    static let blue = "#0072B2"
    static let vermillion = "#D55E00"
    static let green = "#009E73"
    static let purple = "#CC79A7"
    static let orange = "#E69F00"
    static let sky = "#56B4E9"
    static let grey = "#777777"
    static let stop = "#C0001A"

    /// A perceptually ordered colour from dark purple (0) through teal to yellow (1), for cycle 1 to N.
    static func sequential(_ fraction: Double) -> String {
        let anchors: [(Double, Double, Double)] = [
            (68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (222, 200, 36),
        ]
        let position = min(max(fraction, 0), 1) * Double(anchors.count - 1)
        let index = min(Int(position), anchors.count - 2)
        let t = position - Double(index)
        let (a, b) = (anchors[index], anchors[index + 1])
        let channels = [a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t, a.2 + (b.2 - a.2) * t]
        return "#" + channels.map { String(format: "%02X", Int($0.rounded())) }.joined()
    }

    static func step(_ kind: String) -> String {
        switch kind {
        case StepKind.plate.rawValue: blue
        case StepKind.strip.rawValue: vermillion
        case StepKind.impedance.rawValue: purple
        case StepKind.galvanostatic.rawValue: green
        default: "#BBBBBB"
        }
    }
}

/// The report's figures, built from a ``RunReport``.
struct ReportFigures {
    let report: RunReport
    let timeUnit: TimeUnit

    init(report: RunReport) {
        self.report = report
        let span = (report.timeRange?.upperBound ?? 1) - (report.timeRange?.lowerBound ?? 0)
        timeUnit = TimeUnit.suited(to: span)
    }

    private func time(_ seconds: Double, unit: TimeUnit? = nil) -> Double {
        (seconds - report.origin_s) / (unit ?? timeUnit).seconds
    }

    private func scaled(_ points: [(Double, Double)], factor: Double, unit: TimeUnit? = nil) -> [(Double, Double)] {
        points.map { (time($0.0, unit: unit), $0.1 * factor) }
    }

    /// A voltage axis in mV when every value is below 1 V, else in V.
    private func voltageFactor(_ series: [[(Double, Double)]]) -> (factor: Double, unit: String) {
        let largest = series.flatMap { $0.map { abs($0.1) } }.max() ?? 0
        return largest < 1 ? (1000, "mV") : (1, "V")
    }

    /// The x distance (s) beyond which a line breaks: 5 sampling intervals (an impedance step, a lost
    /// instrument), and never less than the width of a few decimation columns over `span_s`.
    private func gap(span_s: Double) -> Double {
        max(5 * report.samplingInterval_s, 2.5 * span_s / Double(RunReport.plotColumns))
    }

    private var runSpan_s: Double {
        (report.timeRange?.upperBound ?? 1) - (report.timeRange?.lowerBound ?? 0)
    }

    // MARK: - Fig. 2 shape: voltage and current density against time

    func cycling() -> SVGFigure? {
        guard !report.voltage.isEmpty else { return nil }
        var figure = SVGFigure(identifier: "fig-cycling")
        let (factor, unit) = voltageFactor([report.voltage, report.voltageWERE])
        let x = Axis.linear(
            covering: [0, runSpan_s / timeUnit.seconds], title: "Time / \(timeUnit.name)", exact: true)
        let voltages = scaled(report.voltage, factor: factor)
        let weRe = scaled(report.voltageWERE, factor: factor)
        var top = PlotPanel(
            x: x, y: Axis.linear(covering: voltages.map(\.1) + weRe.map(\.1), title: "Voltage / \(unit)"),
            height: 230)
        top.letter = "a"
        top.showXTickLabels = false
        top.showXTitle = false
        let gap = gap(span_s: runSpan_s) / timeUnit.seconds
        markSteps(&top)
        top.line(voltages, color: Palette.blue, gap: gap)
        top.legend.append(("cell voltage (WE\u{2212}CE)", Palette.blue, false))
        if !weRe.isEmpty {
            top.line(weRe, color: Palette.green, gap: gap)
            top.legend.append(("WE\u{2212}RE", Palette.green, false))
        }
        markStop(&top, withLabels: true) { time($0) }
        if let trip = report.trippingSample {
            top.markers([(time(trip.time_s), trip.voltage_V * factor)], color: Palette.stop, radius: 4, filled: true)
        }
        let density = scaled(report.currentDensity, factor: 1)
        var bottom = PlotPanel(
            x: x,
            y: Axis.linear(
                covering: density.map(\.1), title: "Current density / mA cm\u{207B}\u{00B2}", includeZero: true,
                targetTicks: 4),
            height: 150)
        bottom.letter = "b"
        markSteps(&bottom, labels: false)
        bottom.horizontal(at: 0, color: "#999999")
        bottom.line(density, color: Palette.vermillion, gap: gap)
        markStop(&bottom, withLabels: false) { time($0) }
        figure.panels = [top, bottom]
        figure.topMargin = 58
        return figure
    }

    /// Alternate cycles shaded, impedance steps in purple, cycle numbers along the top.
    private func markSteps(_ panel: inout PlotPanel, labels: Bool = true) {
        let cycles = Dictionary(grouping: report.steps.filter { $0.cycle > 0 }, by: \.cycle)
        let numbers = cycles.keys.sorted()
        // Labels at least 4 % of the width apart, so short late cycles do not pile up.
        let spacing = (panel.x.maximum - panel.x.minimum) * 0.04
        var lastLabel = -Double.infinity
        for cycle in numbers {
            let steps = cycles[cycle]!
            let start = time(steps.map(\.startTime_s).min()!)
            let end = time(steps.compactMap(\.endTime_s).max() ?? steps.map(\.startTime_s).max()!)
            if cycle % 2 == 0 { panel.band(from: start, to: end, color: "#000000", opacity: 0.035) }
            let middle = (start + end) / 2
            if labels, middle - lastLabel >= spacing {
                panel.topLabel(String(cycle), x: middle, color: Palette.grey)
                lastLabel = middle
            }
        }
        for step in report.steps where step.kind == StepKind.impedance.rawValue {
            panel.band(
                from: time(step.startTime_s), to: time(step.endTime_s ?? step.startTime_s), color: Palette.purple,
                opacity: 0.25)
        }
    }

    /// The stop (label row 1), the estimated onset (row 2) and the simulator's true initiation (row 3); row 0
    /// holds the cycle numbers.
    private func markStop(_ panel: inout PlotPanel, withLabels: Bool, at position: (Double) -> Double) {
        if let initiation = report.truth.first(where: { $0.kind == .dendriteInitiation }) {
            panel.vertical(
                at: position(initiation.time_s), color: Palette.grey, dash: "2 3",
                label: withLabels ? "true initiation (simulator)" : nil, labelRow: 3)
        }
        guard let verdict = report.stopVerdict else { return }
        if let onset = verdict.onsetTime_s {
            panel.vertical(
                at: position(onset), color: Palette.orange, dash: "5 3", label: withLabels ? "onset" : nil,
                labelRow: 2)
        }
        panel.vertical(
            at: position(verdict.time_s), color: Palette.stop, label: withLabels ? "stop: \(verdict.criterion)" : nil,
            labelRow: 1)
    }

    /// The stretch before the stop at full resolution, with the onset and the tripping sample; time runs from
    /// the stop (0) backwards.
    func aroundStop() -> SVGFigure? {
        guard let window = report.stopWindow, let verdict = report.stopVerdict, !report.stopVoltage.isEmpty else {
            return nil
        }
        let unit = TimeUnit.suited(to: window.upperBound - window.lowerBound)
        func relative(_ seconds: Double) -> Double { (seconds - verdict.time_s) / unit.seconds }
        let (factor, voltageUnit) = voltageFactor([report.stopVoltage, report.stopVoltageWERE])
        let voltages = report.stopVoltage.map { (relative($0.0), $0.1 * factor) }
        let weRe = report.stopVoltageWERE.map { (relative($0.0), $0.1 * factor) }
        var panel = PlotPanel(
            x: Axis.linear(
                covering: [relative(window.lowerBound), relative(window.upperBound)],
                title: "Time from the stop / \(unit.name)", exact: true),
            y: Axis.linear(covering: voltages.map(\.1) + weRe.map(\.1), title: "Voltage / \(voltageUnit)"),
            height: 260)
        for step in report.steps where step.startTime_s > window.lowerBound && step.startTime_s < window.upperBound {
            panel.vertical(at: relative(step.startTime_s), color: "#BBBBBB", dash: "1 3")
        }
        let gap = gap(span_s: window.upperBound - window.lowerBound) / unit.seconds
        panel.line(voltages, color: Palette.blue, gap: gap)
        panel.legend.append(("cell voltage", Palette.blue, false))
        if !weRe.isEmpty {
            panel.line(weRe, color: Palette.green, gap: gap)
            panel.legend.append(("WE\u{2212}RE", Palette.green, false))
        }
        markStop(&panel, withLabels: true, at: relative)
        if let trip = report.trippingSample {
            panel.markers(
                [(relative(trip.time_s), trip.voltage_V * factor)], color: Palette.stop, radius: 4.5, filled: true)
            panel.legend.append(("tripping sample", Palette.stop, true))
        }
        var figure = SVGFigure(identifier: "fig-stop")
        figure.panels = [panel]
        figure.topMargin = 58
        return figure
    }

    // MARK: - Fig. 3 shape: the strips overlaid, and the end-of-strip polarisation

    func stripping() -> SVGFigure? {
        let strips = report.strips.filter { !$0.points.isEmpty }
        guard strips.count >= 2 else { return nil }
        let longest = strips.map { $0.points.last?.0 ?? 0 }.max() ?? 1
        let unit = TimeUnit.suited(to: longest)
        let all = strips.flatMap(\.points)
        let (factor, voltageUnit) = voltageFactor([all])
        let quantity = report.stripsUseWERE ? "WE\u{2212}RE polarisation" : "Cell voltage"
        var overlay = PlotPanel(
            x: Axis.linear(covering: [0, longest / unit.seconds], title: "Time in strip / \(unit.name)", exact: true),
            y: Axis.linear(covering: all.map { $0.1 * factor }, title: "\(quantity) / \(voltageUnit)"),
            height: 260)
        overlay.letter = "a"
        let cycles = strips.map(\.cycle)
        let first = cycles.min() ?? 1
        let last = cycles.max() ?? 1
        for strip in strips {
            let fraction = last > first ? Double(strip.cycle - first) / Double(last - first) : 0
            overlay.line(
                strip.points.map { ($0.0 / unit.seconds, $0.1 * factor) }, color: Palette.sequential(fraction),
                width: 1.1)
        }
        overlay.legend = [
            ("cycle \(first)", Palette.sequential(0), false),
            ("cycle \((first + last) / 2)", Palette.sequential(0.5), false),
            ("cycle \(last)", Palette.sequential(1), false),
        ]
        let ends = strips.compactMap { strip in strip.endValue_V.map { (Double(strip.cycle), abs($0) * factor) } }
        var trend = PlotPanel(
            x: Axis.linear(covering: [0] + ends.map(\.0), title: "Cycle", includeZero: true),
            y: Axis.linear(
                covering: ends.map(\.1), title: "End-of-strip |polarisation| / \(voltageUnit)", includeZero: true,
                targetTicks: 4),
            height: 180)
        trend.letter = "b"
        trend.line(ends, color: Palette.vermillion)
        trend.markers(ends, color: Palette.vermillion, radius: 3.2, filled: true)
        var figure = SVGFigure(identifier: "fig-stripping")
        figure.panels = [overlay, trend]
        figure.panelGap = 24
        return figure
    }

    // MARK: - Fig. 1 shape: Nyquist and Bode with the fitted curve

    func impedance(_ spectrum: SpectrumReport) -> (nyquist: SVGFigure, bode: SVGFigure) {
        let area = report.run.area_cm2
        let measured = spectrum.points
        let frequencies = measured.map(\.frequency_Hz)
        let fitted: [(frequency: Double, value: ComplexImpedance)] = {
            guard let fit = spectrum.fit else { return [] }
            let model = CircuitModel(fit.circuit)
            let low = log10(frequencies.min() ?? 1)
            let high = log10(frequencies.max() ?? 10)
            return (0...240).map { index in
                let frequency = pow(10, high - (high - low) * Double(index) / 240)
                return (frequency, model.impedance(atFrequency: frequency, parameters: fit.values))
            }
        }()
        let dataPoints = measured.map { ($0.real_Ohm * area, -$0.imaginary_Ohm * area) }
        let fitPoints = fitted.map { ($0.value.real * area, -$0.value.imaginary * area) }
        let reals = (dataPoints + fitPoints).map(\.0)
        let imaginaries = (dataPoints + fitPoints).map(\.1)
        var nyquist = PlotPanel(
            x: Axis.linear(covering: reals, title: "Z\u{2032} / \u{03A9} cm\u{00B2}"),
            y: Axis.linear(covering: imaginaries, title: "\u{2212}Z\u{2033} / \u{03A9} cm\u{00B2}", includeZero: true),
            height: 300)
        nyquist.equalAspect = true
        nyquist.letter = "a"
        nyquist.line(fitPoints, color: Palette.vermillion, width: 1.5)
        nyquist.markers(dataPoints, color: Palette.blue, radius: 3)
        nyquist.legend.append(("measured", Palette.blue, true))
        if let fit = spectrum.fit { nyquist.legend.append(("fit \(fit.circuit)", Palette.vermillion, false)) }
        var nyquistFigure = SVGFigure(identifier: "fig-nyquist-\(spectrum.stepIndex)")
        nyquistFigure.width = 470
        nyquistFigure.marginLeft = 70
        nyquistFigure.panels = [nyquist]
        nyquistFigure.topMargin = 12

        let frequencyAxis = Axis.logarithmic(covering: frequencies, title: "Frequency / Hz")
        let modulus = measured.map { ($0.frequency_Hz, hypot($0.real_Ohm, $0.imaginary_Ohm) * area) }
        let fitModulus = fitted.map { ($0.frequency, $0.value.magnitude * area) }
        var magnitude = PlotPanel(
            x: frequencyAxis,
            y: Axis.logarithmic(covering: (modulus + fitModulus).map(\.1), title: "|Z| / \u{03A9} cm\u{00B2}"),
            height: 130)
        magnitude.letter = "b"
        magnitude.showXTickLabels = false
        magnitude.showXTitle = false
        magnitude.line(fitModulus, color: Palette.vermillion, width: 1.5)
        magnitude.markers(modulus, color: Palette.blue, radius: 2.6)
        let phase = measured.map { ($0.frequency_Hz, -atan2($0.imaginary_Ohm, $0.real_Ohm) * 180 / .pi) }
        let fitPhase = fitted.map { ($0.frequency, -$0.value.phase_deg) }
        var angle = PlotPanel(
            x: frequencyAxis,
            y: Axis.linear(
                covering: (phase + fitPhase).map(\.1), title: "\u{2212}Phase / \u{00B0}", includeZero: true,
                targetTicks: 4),
            height: 130)
        angle.letter = "c"
        angle.line(fitPhase, color: Palette.vermillion, width: 1.5)
        angle.markers(phase, color: Palette.blue, radius: 2.6)
        var bode = SVGFigure(identifier: "fig-bode-\(spectrum.stepIndex)")
        bode.width = 470
        bode.marginLeft = 70
        bode.panels = [magnitude, angle]
        bode.topMargin = 12
        return (nyquistFigure, bode)
    }

    // MARK: - Conditions and timeline

    func conditions() -> SVGFigure? {
        var panels: [PlotPanel] = []
        let x = Axis.linear(
            covering: [0, runSpan_s / timeUnit.seconds], title: "Time / \(timeUnit.name)", exact: true)
        let gap = gap(span_s: runSpan_s) / timeUnit.seconds
        if !report.pressure.isEmpty {
            let values = scaled(report.pressure, factor: 1)
            var panel = PlotPanel(
                x: x, y: Axis.linear(covering: values.map(\.1), title: "Stack pressure / MPa", targetTicks: 4),
                height: 120)
            panel.line(values, color: Palette.purple, gap: gap)
            panels.append(panel)
        }
        if !report.temperature.isEmpty {
            let values = scaled(report.temperature, factor: 1)
            var panel = PlotPanel(
                x: x, y: Axis.linear(covering: values.map(\.1), title: "Temperature / \u{00B0}C", targetTicks: 4),
                height: 120)
            panel.line(values, color: Palette.orange, gap: gap)
            panels.append(panel)
        }
        guard !panels.isEmpty else { return nil }
        for index in panels.indices.dropLast() {
            panels[index].showXTickLabels = false
            panels[index].showXTitle = false
        }
        for index in panels.indices { panels[index].letter = ["a", "b"][index] }
        var figure = SVGFigure(identifier: "fig-conditions")
        figure.panels = panels
        figure.topMargin = 12
        return figure
    }

    func timeline() -> SVGFigure? {
        guard report.timeRange != nil || !report.steps.isEmpty else { return nil }
        let start = report.steps.map(\.startTime_s).min() ?? report.origin_s
        let end = max(
            report.steps.compactMap(\.endTime_s).max() ?? start, report.timeRange?.upperBound ?? start,
            report.events.map(\.time_s).max() ?? start)
        let x = Axis.linear(covering: [min(time(start), 0), time(end)], title: "Time / \(timeUnit.name)", exact: true)
        var y = Axis(minimum: 0.4, maximum: 3.6, scale: .linear, title: "")
        y.namedTicks = [(3, "steps"), (2, "warnings"), (1, "verdicts")]
        var panel = PlotPanel(x: x, y: y, height: 90)
        for step in report.steps {
            panel.line(
                [(time(step.startTime_s), 3), (time(step.endTime_s ?? end), 3)], color: Palette.step(step.kind),
                width: 10)
        }
        for event in report.events {
            let t = time(event.time_s)
            switch (event.kind, event.verdict?.action) {
            case (_, .warn?): panel.markers([(t, 2)], color: Palette.orange, radius: 3.5, shape: .triangle)
            case (_, .stop?): panel.markers([(t, 1)], color: Palette.stop, radius: 5, filled: true, shape: .diamond)
            case (_, .pause?), (_, .endStep?):
                panel.markers([(t, 1)], color: Palette.blue, radius: 4, filled: true)
            case (.fault, _): panel.markers([(t, 1)], color: "#000000", radius: 4, filled: true, shape: .square)
            case (.operatorCommand, _): panel.markers([(t, 1)], color: Palette.grey, radius: 4, shape: .square)
            default: continue
            }
        }
        var figure = SVGFigure(identifier: "fig-timeline")
        figure.panels = [panel]
        figure.topMargin = 10
        return figure
    }
}
