import Foundation

/// One panel of a figure: two axes, a frame with ticks and labels, and the marks drawn in data coordinates.
///
/// Marks are clipped to the frame. Lines break where two consecutive points are further apart in x than
/// `gap` (a pause in the data, an impedance step), so a missing stretch never shows as a straight segment.
struct PlotPanel {
    var x: Axis
    var y: Axis
    var height: Double
    var showXTickLabels = true
    var showXTitle = true
    /// Panel letter shown top left (`a`, `b`), as in a paper figure.
    var letter: String?
    /// Legend entries: a line, or a dot for a series drawn as markers.
    var legend: [(label: String, color: String, marker: Bool)] = []
    /// Equal data units per pixel on both axes (a Nyquist plot): the figure shortens the panel or narrows it.
    var equalAspect = false
    fileprivate var marks: [Mark] = []
    fileprivate var plotWidthOverride: Double?

    init(x: Axis, y: Axis, height: Double) {
        self.x = x
        self.y = y
        self.height = height
    }

    fileprivate enum Mark {
        case line(points: [(Double, Double)], color: String, width: Double, dash: String?, gap: Double?)
        case markers(points: [(Double, Double)], color: String, radius: Double, filled: Bool, shape: MarkerShape)
        case vertical(x: Double, color: String, dash: String?, label: String?, labelRow: Int)
        case horizontal(y: Double, color: String, dash: String?)
        case band(from: Double, to: Double, color: String, opacity: Double)
        case text(x: Double, y: Double, text: String, anchor: String, color: String)
        case topLabel(x: Double, text: String, color: String)
    }

    enum MarkerShape { case circle, square, triangle, diamond }

    mutating func line(
        _ points: [(Double, Double)], color: String, width: Double = 1.2, dash: String? = nil, gap: Double? = nil
    ) {
        guard !points.isEmpty else { return }
        marks.append(.line(points: points, color: color, width: width, dash: dash, gap: gap))
    }

    mutating func markers(
        _ points: [(Double, Double)], color: String, radius: Double = 3, filled: Bool = false,
        shape: MarkerShape = .circle
    ) {
        guard !points.isEmpty else { return }
        marks.append(.markers(points: points, color: color, radius: radius, filled: filled, shape: shape))
    }

    mutating func vertical(at x: Double, color: String, dash: String? = nil, label: String? = nil, labelRow: Int = 0) {
        marks.append(.vertical(x: x, color: color, dash: dash, label: label, labelRow: labelRow))
    }

    mutating func horizontal(at y: Double, color: String, dash: String? = nil) {
        marks.append(.horizontal(y: y, color: color, dash: dash))
    }

    mutating func band(from start: Double, to end: Double, color: String, opacity: Double = 0.12) {
        marks.append(.band(from: start, to: end, color: color, opacity: opacity))
    }

    mutating func text(_ text: String, x: Double, y: Double, anchor: String = "start", color: String = "#222") {
        marks.append(.text(x: x, y: y, text: text, anchor: anchor, color: color))
    }

    /// A label just above the frame at `x` (cycle numbers).
    mutating func topLabel(_ text: String, x: Double, color: String) {
        marks.append(.topLabel(x: x, text: text, color: color))
    }
}

/// A figure: panels stacked vertically (sharing the width), rendered as one inline SVG element.
struct SVGFigure {
    static let fontFamily = "'DejaVu Sans', 'Liberation Sans', Arial, Helvetica, sans-serif"

    var identifier: String
    var width: Double = 960
    var marginLeft: Double = 78
    var marginRight: Double = 24
    var panelGap: Double = 14
    var panels: [PlotPanel] = []
    /// Extra rows above the first panel for vertical-line labels and the legend.
    var topMargin: Double = 30
    /// Plain text under the figure, rendered by the page (the caption).
    var caption: String = ""

    init(identifier: String) {
        self.identifier = identifier
    }

    var plotWidth: Double { width - marginLeft - marginRight }

    /// Panels after equal-aspect layout: a Nyquist panel becomes as tall as its data need (at least 140 units),
    /// or narrower when its data are taller than wide.
    private func laidOut() -> [PlotPanel] {
        panels.map { original in
            guard original.equalAspect else { return original }
            var panel = original
            let xPerPixel = (panel.x.maximum - panel.x.minimum) / plotWidth
            let yPerPixel = (panel.y.maximum - panel.y.minimum) / panel.height
            if xPerPixel >= yPerPixel {
                let height = (panel.y.maximum - panel.y.minimum) / xPerPixel
                if height >= 140 {
                    panel.height = height
                } else {
                    panel.height = 140
                    panel.y.maximum = panel.y.minimum + xPerPixel * 140
                }
            } else {
                panel.plotWidthOverride = (panel.x.maximum - panel.x.minimum) / yPerPixel
            }
            return panel
        }
    }

    /// The SVG element.
    func render() -> String {
        let panels = laidOut()
        var height = topMargin
        for (index, panel) in panels.enumerated() {
            height += panel.height + (panel.showXTickLabels ? 22 : 0) + (panel.showXTitle ? 20 : 0)
            if index < panels.count - 1 { height += panelGap }
        }
        height += 8
        var svg = SVGWriter()
        svg.raw(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"\(identifier)\" class=\"figure\" "
                + "viewBox=\"0 0 \(SVGWriter.number(width)) \(SVGWriter.number(height))\" "
                + "font-family=\"\(Self.fontFamily)\" font-size=\"12\" role=\"img\">")
        var top = topMargin
        for (index, panel) in panels.enumerated() {
            render(panel, index: index, top: top, into: &svg)
            top += panel.height + (panel.showXTickLabels ? 22 : 0) + (panel.showXTitle ? 20 : 0) + panelGap
        }
        svg.raw("</svg>")
        return svg.text
    }

    private func render(_ panel: PlotPanel, index: Int, top: Double, into svg: inout SVGWriter) {
        let left = marginLeft
        let plotWidth = panel.plotWidthOverride ?? plotWidth
        let x = panel.x
        let y = panel.y
        let height = panel.height
        func px(_ value: Double) -> Double { left + x.fraction(value) * plotWidth }
        func py(_ value: Double) -> Double { top + (1 - y.fraction(value)) * height }
        let clip = "\(identifier)-clip\(index)"
        svg.raw(
            "<clipPath id=\"\(clip)\"><rect x=\"\(SVGWriter.number(left))\" y=\"\(SVGWriter.number(top))\" "
                + "width=\"\(SVGWriter.number(plotWidth))\" height=\"\(SVGWriter.number(height))\"/></clipPath>")
        // Grid and ticks.
        svg.raw("<g class=\"grid\" stroke=\"#e4e4e4\" stroke-width=\"0.8\">")
        for tick in y.ticks {
            svg.raw(SVGWriter.segment(left, py(tick), left + plotWidth, py(tick)))
        }
        for tick in x.ticks {
            svg.raw(SVGWriter.segment(px(tick), top, px(tick), top + height))
        }
        svg.raw("</g>")
        // Marks under the frame.
        svg.raw("<g clip-path=\"url(#\(clip))\">")
        for mark in panel.marks {
            switch mark {
            case .band(let start, let end, let color, let opacity):
                let x0 = max(px(start), left)
                let x1 = min(px(end), left + plotWidth)
                guard x1 > x0 else { continue }
                svg.raw(
                    "<rect x=\"\(SVGWriter.number(x0))\" y=\"\(SVGWriter.number(top))\" width=\"\(SVGWriter.number(x1 - x0))\" "
                        + "height=\"\(SVGWriter.number(height))\" fill=\"\(color)\" fill-opacity=\"\(opacity)\"/>")
            case .horizontal(let value, let color, let dash):
                svg.raw(
                    "<line x1=\"\(SVGWriter.number(left))\" y1=\"\(SVGWriter.number(py(value)))\" "
                        + "x2=\"\(SVGWriter.number(left + plotWidth))\" y2=\"\(SVGWriter.number(py(value)))\" stroke=\"\(color)\" "
                        + "stroke-width=\"0.9\"\(dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")/>")
            case .line(let points, let color, let width, let dash, let gap):
                for run in Self.runs(points, gap: gap) {
                    svg.polyline(run.map { (px($0.0), py($0.1)) }, color: color, width: width, dash: dash)
                }
            case .markers(let points, let color, let radius, let filled, let shape):
                svg.markers(
                    points.map { (px($0.0), py($0.1)) }, color: color, radius: radius, filled: filled, shape: shape)
            case .vertical(let value, let color, let dash, _, _):
                svg.raw(
                    "<line x1=\"\(SVGWriter.number(px(value)))\" y1=\"\(SVGWriter.number(top))\" "
                        + "x2=\"\(SVGWriter.number(px(value)))\" y2=\"\(SVGWriter.number(top + height))\" stroke=\"\(color)\" "
                        + "stroke-width=\"1.2\"\(dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")/>")
            case .text(let tx, let ty, let text, let anchor, let color):
                svg.raw(
                    "<text x=\"\(SVGWriter.number(px(tx)))\" y=\"\(SVGWriter.number(py(ty)))\" text-anchor=\"\(anchor)\" "
                        + "fill=\"\(color)\" font-size=\"11\">\(SVGWriter.escape(text))</text>")
            case .topLabel: continue
            }
        }
        svg.raw("</g>")
        for mark in panel.marks {
            guard case .topLabel(let value, let text, let color) = mark, (0...1).contains(x.fraction(value)) else {
                continue
            }
            svg.raw(
                "<text x=\"\(SVGWriter.number(px(value)))\" y=\"\(SVGWriter.number(top - 4))\" text-anchor=\"middle\" "
                    + "fill=\"\(color)\" font-size=\"10\">\(SVGWriter.escape(text))</text>")
        }
        // Labels of vertical lines sit above the frame, outside the clip.
        for mark in panel.marks {
            guard case .vertical(let value, let color, _, let label?, let row) = mark,
                x.fraction(value) >= 0, x.fraction(value) <= 1
            else { continue }
            let position = px(value)
            let anchor = position > left + plotWidth * 0.8 ? "end" : "start"
            let shift = anchor == "end" ? -3.0 : 3.0
            svg.raw(
                "<text x=\"\(SVGWriter.number(position + shift))\" y=\"\(SVGWriter.number(top - 4 - Double(row) * 12))\" "
                    + "text-anchor=\"\(anchor)\" fill=\"\(color)\" font-size=\"11\">\(SVGWriter.escape(label))</text>")
        }
        // Frame, ticks, labels.
        svg.raw(
            "<rect x=\"\(SVGWriter.number(left))\" y=\"\(SVGWriter.number(top))\" width=\"\(SVGWriter.number(plotWidth))\" "
                + "height=\"\(SVGWriter.number(height))\" fill=\"none\" stroke=\"#222\" stroke-width=\"1\"/>")
        svg.raw("<g stroke=\"#222\" stroke-width=\"1\">")
        for tick in y.ticks {
            svg.raw(SVGWriter.segment(left - 5, py(tick), left, py(tick)))
        }
        for tick in y.minorTicks where y.fraction(tick) >= 0 && y.fraction(tick) <= 1 {
            svg.raw(SVGWriter.segment(left - 2.5, py(tick), left, py(tick)))
        }
        for tick in x.ticks {
            svg.raw(SVGWriter.segment(px(tick), top + height, px(tick), top + height + 5))
        }
        for tick in x.minorTicks where x.fraction(tick) >= 0 && x.fraction(tick) <= 1 {
            svg.raw(SVGWriter.segment(px(tick), top + height, px(tick), top + height + 2.5))
        }
        svg.raw("</g>")
        for tick in y.ticks {
            svg.raw(
                "<text x=\"\(SVGWriter.number(left - 8))\" y=\"\(SVGWriter.number(py(tick) + 4))\" text-anchor=\"end\">"
                    + "\(SVGWriter.escape(y.label(tick)))</text>")
        }
        if panel.showXTickLabels {
            for tick in x.ticks {
                svg.raw(
                    "<text x=\"\(SVGWriter.number(px(tick)))\" y=\"\(SVGWriter.number(top + height + 18))\" "
                        + "text-anchor=\"middle\">\(SVGWriter.escape(x.label(tick)))</text>")
            }
        }
        if panel.showXTitle {
            svg.raw(
                "<text x=\"\(SVGWriter.number(left + plotWidth / 2))\" y=\"\(SVGWriter.number(top + height + (panel.showXTickLabels ? 36 : 16)))\" "
                    + "text-anchor=\"middle\" font-size=\"13\">\(SVGWriter.escape(x.title))</text>")
        }
        let middle = top + height / 2
        svg.raw(
            "<text transform=\"translate(\(SVGWriter.number(18)),\(SVGWriter.number(middle))) rotate(-90)\" "
                + "text-anchor=\"middle\" font-size=\"13\">\(SVGWriter.escape(y.title))</text>")
        if let letter = panel.letter {
            svg.raw(
                "<text x=\"\(SVGWriter.number(left + 6))\" y=\"\(SVGWriter.number(top + 16))\" font-size=\"14\" "
                    + "font-weight=\"bold\">\(SVGWriter.escape(letter))</text>")
        }
        // Legend inside the frame, in whichever top corner the data leave emptier.
        var legendY = top + 14
        let rightCorner = Self.crowding(panel, xRange: 0.6...1) <= Self.crowding(panel, xRange: 0...0.4)
        let legendWidth = 36 + 6.6 * Double(panel.legend.map(\.label.count).max() ?? 0)
        for entry in panel.legend {
            let right = rightCorner ? left + plotWidth - 8 : left + 30 + legendWidth
            if entry.marker {
                svg.raw(
                    "<circle cx=\"\(SVGWriter.number(right - 12))\" cy=\"\(SVGWriter.number(legendY - 4))\" r=\"3.5\" "
                        + "fill=\"\(entry.color)\"/>")
            } else {
                svg.raw(
                    "<line x1=\"\(SVGWriter.number(right - 24))\" y1=\"\(SVGWriter.number(legendY - 4))\" "
                        + "x2=\"\(SVGWriter.number(right))\" y2=\"\(SVGWriter.number(legendY - 4))\" stroke=\"\(entry.color)\" "
                        + "stroke-width=\"2\"/>")
            }
            svg.raw(
                "<text x=\"\(SVGWriter.number(right - 30))\" y=\"\(SVGWriter.number(legendY))\" text-anchor=\"end\" "
                    + "font-size=\"11\">\(SVGWriter.escape(entry.label))</text>")
            legendY += 15
        }
    }

    /// How many plotted points fall in the top quarter of the panel within `xRange` (fractions of the width).
    private static func crowding(_ panel: PlotPanel, xRange: ClosedRange<Double>) -> Int {
        var count = 0
        for mark in panel.marks {
            let points: [(Double, Double)]
            switch mark {
            case .line(let line, _, _, _, _): points = line
            case .markers(let markers, _, _, _, _): points = markers
            default: continue
            }
            for (x, y) in points where xRange.contains(panel.x.fraction(x)) && panel.y.fraction(y) > 0.72 {
                count += 1
            }
        }
        return count
    }

    /// Splits points into runs wherever x jumps by more than `gap`.
    static func runs(_ points: [(Double, Double)], gap: Double?) -> [[(Double, Double)]] {
        var runs: [[(Double, Double)]] = []
        var current: [(Double, Double)] = []
        for point in points {
            guard point.0.isFinite, point.1.isFinite else {
                if !current.isEmpty { runs.append(current) }
                current = []
                continue
            }
            if let gap, let last = current.last, point.0 - last.0 > gap {
                runs.append(current)
                current = []
            }
            current.append(point)
        }
        if !current.isEmpty { runs.append(current) }
        return runs
    }
}
