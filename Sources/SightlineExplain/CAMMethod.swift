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
    /// Guided Grad-CAM: the Grad-CAM map, plus guided-backpropagation saliency multiplied by the
    /// upsampled map as a high-resolution image (`GuidedBackprop`). Note: it fails the
    /// parameter-randomisation sanity check (Adebayo et al.); prefer the map for trust questions.
    case guidedGradcam = "guided-gradcam"
}
