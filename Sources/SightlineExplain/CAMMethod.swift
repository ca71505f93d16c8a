/// The class-activation-map methods Sightline computes.
public enum CAMMethod: String, Sendable, CaseIterable {
    /// Grad-CAM (Selvaraju et al., 2017): channel weights are the spatial mean of ∂score/∂A.
    case gradcam
    /// Grad-CAM++ (Chattopadhyay et al., 2018) as the paper's official code computes it:
    /// α = g² / (2g² + ΣA·g³) (0 where the denominator is 0), normalised by its spatial sum;
    /// weights Σ_ij α·ReLU(g).
    case gradcamPlusPlus = "gradcam++"
    /// Score-CAM (Wang et al., 2020) as the official code: each channel, min-max normalised and
    /// upsampled, masks the input; its weight is the softmax probability of the class for the
    /// masked input (batched forward passes, no gradients).
    case scorecam
    /// pytorch-grad-cam's Grad-CAM++ and Score-CAM, which depart from the official code
    /// (`ClassActivationMaps+PytorchGradCAM`); named, not in `all`.
    case gradcamPlusPlusPGC = "gradcam++-pgc"
    case scorecamPGC = "scorecam-pgc"
    /// Guided Grad-CAM: the Grad-CAM map, plus guided-backpropagation saliency multiplied by the
    /// upsampled map as a high-resolution image (`GuidedBackprop`). Note: it fails the
    /// parameter-randomisation sanity check (Adebayo et al.); prefer the map for trust questions.
    case guidedGradcam = "guided-gradcam"
    /// HiResCAM (Draelos & Carin, 2020): Σ_k ∂score/∂A_k · A_k, element-wise (provably shows the
    /// locations the score used); pytorch-grad-cam's `HiResCAM`.
    case hirescam
    /// Grad-CAM element-wise: Σ_k ReLU(∂score/∂A_k · A_k); pytorch-grad-cam's `GradCAMElementWise`.
    case gradcamElementwise = "gradcam-elementwise"
    /// XGradCAM (Fu et al., 2020): w_k = Σ_ij g·A / (Σ_ij A + 1e-7); pytorch-grad-cam's `XGradCAM`.
    case xgradcam
    /// LayerCAM (Jiang et al., 2021): Σ_k ReLU(∂score/∂A_k) · A_k; pytorch-grad-cam's `LayerCAM`.
    case layercam
    /// EigenCAM (Muhammad & Yeasin, 2020): the activations' first principal component (no
    /// gradients, so not class-specific), signed so that it correlates positively with the
    /// channel sum (pytorch-grad-cam leaves the sign to the SVD).
    case eigencam
    /// EigenGradCAM: the first principal component of ∂score/∂A · A, signed as EigenCAM.
    case eigengradcam
    /// AblationCAM (Desai & Ramaswamy, 2020): w_k = (score − score with channel k ablated) /
    /// score, batched passes of the network above the layer; pytorch-grad-cam's `AblationCAM`
    /// (`--max-channels` ablates only the channels that vary most).
    case ablationcam
    /// Occlusion (Zeiler & Fergus, 2014): the mean class-score drop when a zero patch covers the
    /// pixel, patches of 1/8 of the input's side moved by half a patch; Captum's `Occlusion`.
    case occlusion
    /// Saliency (Simonyan et al., 2014): max over colour channels of |∂score/∂x|, at the input's
    /// resolution; Captum's `Saliency` (abs) reduced as the paper does.
    case saliency
    /// Input × gradient (Shrikumar et al., 2016): ReLU(Σ_c x · ∂score/∂x) on the preprocessed
    /// input; Captum's `InputXGradient`, positive evidence summed over channels.
    case inputXGradient = "input-x-gradient"
    /// Integrated Gradients (Sundararajan et al., 2017) from a zero baseline (the preprocessed
    /// dataset mean) in 16 trapezoid steps: ReLU(Σ_c IG). Captum's `IntegratedGradients` with
    /// `method="riemann_trapezoid"` gives the same up to a factor (n − 1)/n: its steps are 1/n,
    /// so its weights do not sum to 1; Sightline's are 1/(n − 1), a true trapezoid rule.
    case integratedGradients = "integrated-gradients"
    /// FullGrad (Srinivas & Fleuret, 2019): the input-gradient term and every bias's gradient
    /// term, each channel scaled and upsampled, summed (`FullGrad`); pytorch-grad-cam's `FullGrad`.
    /// At the input's resolution; no target layer.
    case fullgrad
    /// RISE (Petsiuk et al., 2018): the class probability under random soft masks, averaged with
    /// the masks as weights (`RISE`; `--masks N` passes per image). Black-box: no gradients. At
    /// the input's resolution; no target layer.
    case rise

    /// The methods `--method` names: one, a comma-separated list, or `all` (every method but
    /// guided Grad-CAM, whose map is Grad-CAM's, and the pytorch-grad-cam variants); nil when a
    /// name is unknown.
    public static func selection(_ text: String) -> [CAMMethod]? {
        if text == "all" {
            return allCases.filter { ![.guidedGradcam, .gradcamPlusPlusPGC, .scorecamPGC].contains($0) }
        }
        let methods = text.split(separator: ",").map { CAMMethod(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
        guard !methods.isEmpty, !methods.contains(nil) else { return nil }
        return methods.compactMap { $0 }.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
    }

    /// Maps at the input's resolution from input gradients, not at the target layer.
    public var isPixelAttribution: Bool {
        [.saliency, .inputXGradient, .integratedGradients, .occlusion].contains(self)
    }

    /// Methods whose map comes from the target layer (the others work at the input).
    public var usesTargetLayer: Bool { !isPixelAttribution && self != .fullgrad && self != .rise }

    /// Methods that run one masked or ablated pass per channel and image (`--max-channels` caps them).
    public var perturbsChannels: Bool { [.scorecam, .scorecamPGC, .ablationcam].contains(self) }
}
