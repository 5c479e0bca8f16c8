"""The literature the tools follow, cited by author, year and journal (never by a nickname).

Each entry has a short form for the one-line source of a tool's short help (``cite``) and the full citation
for the manual (docs/references.html and the references of every tool page, rendered by
scripts/build_manual.py). The four reference studies of the project come first (STUDIES).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    line: str          # short: authors (year), journal volume: pages
    full: str          # full citation (plain text)
    doi: str = ""      # without https://doi.org/
    url: str = ""      # where no DOI exists


_REFS = [
    # -- the four reference studies -----------------------------------------------------------------------------
    ("han2025", Reference(
        "Han C., Li P., Xie H. et al. (2025), Sustainability 17: 9075",
        "Han C., Li P., Xie H., Pi Y., Zhang Y., Han X., Jin J., Zhao Y. (2025). Assessment of ecological quality "
        "dynamics and driving factors in the Ningdong mining area, China, using the coupled remote sensing "
        "ecological index and ecological grade index. Sustainability 17(20): 9075.", doi="10.3390/su17209075")),
    ("he2026", Reference(
        "He Y., Du H., Bi Y., Liu Y. (2026), soil salinization of the Zhundong mining area, postprint",
        "He Y., Du H., Bi Y., Liu Y. (2026). Spatiotemporal evolution characteristics and driving factors of soil "
        "salinization in the Zhundong mining area. Postprint dated 30 January 2026 (the text does not name the "
        "journal).")),
    ("lan2025", Reference(
        "Lan Y., Tang R., Li G. et al. (2025), 46th Asian Conference on Remote Sensing",
        "Lan Y., Tang R., Li G., Li X., Wang Y., Chen H., Wang T. (2025). Soil salt content inversion using novel "
        "salinity indices based on a stacking model. In: Proceedings of the 46th Asian Conference on Remote "
        "Sensing (ACRS 2025).")),
    ("rs2022npp", Reference(
        "Deciphering the drivers of NPP of vegetation in mining areas (2022), Remote Sensing 14: 4177",
        "Deciphering the drivers of net primary productivity of vegetation in mining areas (2022). Remote Sensing "
        "14(17): 4177 (Changhe Basin mining area, Shanxi; Henan University and Shanxi Agricultural University; "
        "the text the project holds does not name the authors).", doi="10.3390/rs14174177")),
    # -- indices, radiometry, LST -----------------------------------------------------------------------------
    # -- spatiotemporal fusion ----------------------------------------------------------------------------------
    ("zhu2010", Reference(
        "Zhu X., Chen J., Gao F., Chen X., Masek J.G. (2010), Remote Sensing of Environment 114: 2610-2623",
        "Zhu X., Chen J., Gao F., Chen X., Masek J.G. (2010). An enhanced spatial and temporal adaptive reflectance "
        "fusion model for complex heterogeneous regions. Remote Sensing of Environment 114(11): 2610-2623.",
        doi="10.1016/j.rse.2010.05.032")),
    # -- compositing -------------------------------------------------------------------------------------------
    ("griffiths2013", Reference(
        "Griffiths P. et al. (2013), IEEE JSTARS 6: 2088-2101",
        "Griffiths P., van der Linden S., Kuemmerle T., Hostert P. (2013). A pixel-based Landsat compositing "
        "algorithm for large area land cover mapping. IEEE Journal of Selected Topics in Applied Earth "
        "Observations and Remote Sensing 6(5): 2088-2101.", doi="10.1109/JSTARS.2012.2228167")),
    ("roy2016", Reference(
        "Roy D.P. et al. (2016), Remote Sensing of Environment 185: 57-70",
        "Roy D.P., Kovalskyy V., Zhang H.K., Vermote E.F., Yan L., Kumar S.S., Egorov A. (2016). Characterization "
        "of Landsat-7 to Landsat-8 reflective wavelength and normalized difference vegetation index continuity. "
        "Remote Sensing of Environment 185: 57-70.", doi="10.1016/j.rse.2015.12.024")),
    ("xu2013", Reference(
        "Xu H. (2013), Acta Ecologica Sinica 33: 7853-7862",
        "Xu H. (2013). A remote sensing urban ecological index and its application. Acta Ecologica Sinica 33(24): "
        "7853-7862 (in Chinese).")),
    ("xu2006", Reference(
        "Xu H. (2006), International Journal of Remote Sensing 27: 3025-3033",
        "Xu H. (2006). Modification of normalised difference water index (NDWI) to enhance open water features in "
        "remotely sensed imagery. International Journal of Remote Sensing 27(14): 3025-3033.",
        doi="10.1080/01431160600589179")),
    ("xu2008", Reference(
        "Xu H. (2008), International Journal of Remote Sensing 29: 4269-4276",
        "Xu H. (2008). A new index for delineating built-up land features in satellite imagery. International "
        "Journal of Remote Sensing 29(14): 4269-4276.", doi="10.1080/01431160802039957")),
    ("rouse1974", Reference(
        "Rouse J.W. et al. (1974), NASA SP-351",
        "Rouse J.W., Haas R.H., Schell J.A., Deering D.W. (1974). Monitoring vegetation systems in the Great Plains "
        "with ERTS. Third Earth Resources Technology Satellite-1 Symposium, NASA SP-351, vol. 1: 309-317.")),
    ("tucker1979", Reference(
        "Tucker C.J. (1979), Remote Sensing of Environment 8: 127-150",
        "Tucker C.J. (1979). Red and photographic infrared linear combinations for monitoring vegetation. Remote "
        "Sensing of Environment 8(2): 127-150.", doi="10.1016/0034-4257(79)90013-0")),
    ("jordan1969", Reference(
        "Jordan C.F. (1969), Ecology 50: 663-666",
        "Jordan C.F. (1969). Derivation of leaf-area index from quality of light on the forest floor. Ecology "
        "50(4): 663-666.", doi="10.2307/1936256")),
    ("huete2002", Reference(
        "Huete A. et al. (2002), Remote Sensing of Environment 83: 195-213",
        "Huete A., Didan K., Miura T., Rodriguez E.P., Gao X., Ferreira L.G. (2002). Overview of the radiometric "
        "and biophysical performance of the MODIS vegetation indices. Remote Sensing of Environment 83(1-2): "
        "195-213.", doi="10.1016/S0034-4257(02)00096-2")),
    ("kaufman1992", Reference(
        "Kaufman Y.J., Tanre D. (1992), IEEE Transactions on Geoscience and Remote Sensing 30: 261-270",
        "Kaufman Y.J., Tanre D. (1992). Atmospherically resistant vegetation index (ARVI) for EOS-MODIS. IEEE "
        "Transactions on Geoscience and Remote Sensing 30(2): 261-270.", doi="10.1109/36.134076")),
    ("crist1985", Reference(
        "Crist E.P. (1985), Remote Sensing of Environment 17: 301-306",
        "Crist E.P. (1985). A TM tasseled cap equivalent transformation for reflectance factor data. Remote "
        "Sensing of Environment 17(3): 301-306.", doi="10.1016/0034-4257(85)90102-6")),
    ("huang2002", Reference(
        "Huang C. et al. (2002), International Journal of Remote Sensing 23: 1741-1748",
        "Huang C., Wylie B., Yang L., Homer C., Zylstra G. (2002). Derivation of a tasselled cap transformation "
        "based on Landsat 7 at-satellite reflectance. International Journal of Remote Sensing 23(8): 1741-1748.",
        doi="10.1080/01431160110106113")),
    ("baig2014", Reference(
        "Baig M.H.A. et al. (2014), Remote Sensing Letters 5: 423-431",
        "Baig M.H.A., Zhang L., Shuai T., Tong Q. (2014). Derivation of a tasselled cap transformation based on "
        "Landsat 8 at-satellite reflectance. Remote Sensing Letters 5(5): 423-431.",
        doi="10.1080/2150704X.2014.915434")),
    ("gao1996", Reference(
        "Gao B.-C. (1996), Remote Sensing of Environment 58: 257-266",
        "Gao B.-C. (1996). NDWI - a normalized difference water index for remote sensing of vegetation liquid "
        "water from space. Remote Sensing of Environment 58(3): 257-266.", doi="10.1016/S0034-4257(96)00067-3")),
    ("douaoui2006", Reference(
        "Douaoui A.E.K. et al. (2006), Geoderma 134: 217-230",
        "Douaoui A.E.K., Nicolas H., Walter C. (2006). Detecting salinity hazards within a semiarid context by "
        "means of combining soil and remote-sensing data. Geoderma 134(1-2): 217-230.",
        doi="10.1016/j.geoderma.2005.10.009")),
    ("abbas2007", Reference(
        "Abbas A., Khan S. (2007), MODSIM 2007",
        "Abbas A., Khan S. (2007). Using remote sensing techniques for appraisal of irrigated soil salinity. In: "
        "MODSIM 2007 International Congress on Modelling and Simulation, Modelling and Simulation Society of "
        "Australia and New Zealand.")),
    ("bannari2008", Reference(
        "Bannari A. et al. (2008), Communications in Soil Science and Plant Analysis 39: 2795-2811",
        "Bannari A., Guedon A.M., El-Harti A., Cherkaoui F.Z., El-Ghmari A. (2008). Characterization of slightly "
        "and moderately saline and sodic soils in irrigated agricultural land using simulated data of advanced "
        "land imaging (EO-1) sensor. Communications in Soil Science and Plant Analysis 39(19-20): 2795-2811.")),
    ("scudiero2014", Reference(
        "Scudiero E. et al. (2014), Geoderma Regional 2-3: 82-90",
        "Scudiero E., Skaggs T.H., Corwin D.L. (2014). Regional scale soil salinity evaluation using Landsat 7, "
        "western San Joaquin Valley, California, USA. Geoderma Regional 2-3: 82-90.",
        doi="10.1016/j.geodrs.2014.10.004")),
    ("chander2009", Reference(
        "Chander G. et al. (2009), Remote Sensing of Environment 113: 893-903",
        "Chander G., Markham B.L., Helder D.L. (2009). Summary of current radiometric calibration coefficients for "
        "Landsat MSS, TM, ETM+, and EO-1 ALI sensors. Remote Sensing of Environment 113(5): 893-903.",
        doi="10.1016/j.rse.2009.01.007")),
    ("usgs_l2", Reference(
        "U.S. Geological Survey, Landsat Collection 2 Level-2 Science Product Guide",
        "U.S. Geological Survey. Landsat 8-9 Collection 2 (C2) Level 2 Science Product (L2SP) Guide, LSDS-1619; "
        "Landsat 4-7 C2 L2SP Guide, LSDS-1618 (surface reflectance: DN x 0.0000275 - 0.2; surface temperature: "
        "DN x 0.00341802 + 149.0 K).",
        url="https://www.usgs.gov/landsat-missions/landsat-collection-2-level-2-science-products")),
    ("sobrino2004", Reference(
        "Sobrino J.A. et al. (2004), Remote Sensing of Environment 90: 434-440",
        "Sobrino J.A., Jimenez-Munoz J.C., Paolini L. (2004). Land surface temperature retrieval from LANDSAT TM 5. "
        "Remote Sensing of Environment 90(4): 434-440.", doi="10.1016/j.rse.2004.02.003")),
    ("artis1982", Reference(
        "Artis D.A., Carnahan W.H. (1982), Remote Sensing of Environment 12: 313-329",
        "Artis D.A., Carnahan W.H. (1982). Survey of emissivity variability in thermography of urban areas. Remote "
        "Sensing of Environment 12(4): 313-329.", doi="10.1016/0034-4257(82)90043-8")),
    # -- land cover, trends, statistics ---------------------------------------------------------------------
    ("yang2021", Reference(
        "Yang J., Huang X. (2021), Earth System Science Data 13: 3907-3925",
        "Yang J., Huang X. (2021). The 30 m annual land cover dataset and its dynamics in China from 1990 to 2019. "
        "Earth System Science Data 13(8): 3907-3925 (CLCD).", doi="10.5194/essd-13-3907-2021")),
    ("sen1968", Reference(
        "Sen P.K. (1968), Journal of the American Statistical Association 63: 1379-1389",
        "Sen P.K. (1968). Estimates of the regression coefficient based on Kendall's tau. Journal of the American "
        "Statistical Association 63(324): 1379-1389.", doi="10.1080/01621459.1968.10480934")),
    ("mann1945", Reference(
        "Mann H.B. (1945), Econometrica 13: 245-259",
        "Mann H.B. (1945). Nonparametric tests against trend. Econometrica 13(3): 245-259.", doi="10.2307/1907187")),
    ("kendall1975", Reference(
        "Kendall M.G. (1975), Rank Correlation Methods",
        "Kendall M.G. (1975). Rank Correlation Methods, 4th edition. Charles Griffin, London.")),
    ("trendsearth", Reference(
        "Trends.Earth, Conservation International",
        "Trends.Earth. Conservation International (land-cover transition maps coded from x multiplier + to).",
        url="https://trends.earth")),
    # -- salinity models ------------------------------------------------------------------------------------
    ("wold1993", Reference(
        "Wold S., Johansson E., Cocchi M. (1993), 3D QSAR in Drug Design",
        "Wold S., Johansson E., Cocchi M. (1993). PLS - partial least-squares projections to latent structures. "
        "In: Kubinyi H. (ed.), 3D QSAR in Drug Design: Theory, Methods and Applications. ESCOM, Leiden: 523-550.")),
    ("chong2005", Reference(
        "Chong I.-G., Jun C.-H. (2005), Chemometrics and Intelligent Laboratory Systems 78: 103-112",
        "Chong I.-G., Jun C.-H. (2005). Performance of some variable selection methods when multicollinearity is "
        "present. Chemometrics and Intelligent Laboratory Systems 78(1-2): 103-112.",
        doi="10.1016/j.chemolab.2004.12.011")),
    ("deng1989", Reference(
        "Deng J.-L. (1989), The Journal of Grey System 1: 1-24",
        "Deng J.-L. (1989). Introduction to grey system theory. The Journal of Grey System 1(1): 1-24.")),
    ("breiman2001", Reference(
        "Breiman L. (2001), Machine Learning 45: 5-32",
        "Breiman L. (2001). Random forests. Machine Learning 45(1): 5-32.", doi="10.1023/A:1010933404324")),
    ("liaw2002", Reference(
        "Liaw A., Wiener M. (2002), R News 2: 18-22",
        "Liaw A., Wiener M. (2002). Classification and regression by randomForest. R News 2(3): 18-22.")),
    ("wolpert1992", Reference(
        "Wolpert D.H. (1992), Neural Networks 5: 241-259",
        "Wolpert D.H. (1992). Stacked generalization. Neural Networks 5(2): 241-259.",
        doi="10.1016/S0893-6080(05)80023-1")),
    ("chen2016", Reference(
        "Chen T., Guestrin C. (2016), Proceedings of the 22nd ACM SIGKDD Conference: 785-794",
        "Chen T., Guestrin C. (2016). XGBoost: a scalable tree boosting system. Proceedings of the 22nd ACM SIGKDD "
        "International Conference on Knowledge Discovery and Data Mining: 785-794.", doi="10.1145/2939672.2939785")),
    ("pedregosa2011", Reference(
        "Pedregosa F. et al. (2011), Journal of Machine Learning Research 12: 2825-2830",
        "Pedregosa F., Varoquaux G., Gramfort A. et al. (2011). Scikit-learn: machine learning in Python. Journal "
        "of Machine Learning Research 12: 2825-2830.")),
    ("wang1993", Reference(
        "Wang Z., Zhu S., Yu R. (1993), Saline Soils of China",
        "Wang Z., Zhu S., Yu R. (1993). Saline Soils of China (Zhongguo Yanzi Tu). Science Press, Beijing "
        "(in Chinese).")),
    # -- productivity -------------------------------------------------------------------------------------------
    ("potter1993", Reference(
        "Potter C.S. et al. (1993), Global Biogeochemical Cycles 7: 811-841",
        "Potter C.S., Randerson J.T., Field C.B., Matson P.A., Vitousek P.M., Mooney H.A., Klooster S.A. (1993). "
        "Terrestrial ecosystem production: a process model based on global satellite and surface data. Global "
        "Biogeochemical Cycles 7(4): 811-841.", doi="10.1029/93GB02725")),
    ("zhu2006", Reference(
        "Zhu W. et al. (2006), Chinese Science Bulletin 51: 457-463",
        "Zhu W., Pan Y., He H., Yu D., Hu H. (2006). Simulation of maximum light use efficiency for some typical "
        "vegetation types in China. Chinese Science Bulletin 51(4): 457-463.")),
    ("zhu2007", Reference(
        "Zhu W., Pan Y., Zhang J. (2007), Chinese Journal of Plant Ecology 31: 413-424",
        "Zhu W., Pan Y., Zhang J. (2007). Estimation of net primary productivity of Chinese terrestrial vegetation "
        "based on remote sensing. Chinese Journal of Plant Ecology (Journal of Plant Ecology) 31(3): 413-424 "
        "(in Chinese).")),
    ("zhou1995", Reference(
        "Zhou G., Zhang X. (1995), Acta Phytoecologica Sinica 19: 193-200",
        "Zhou G., Zhang X. (1995). A natural vegetation NPP model. Acta Phytoecologica Sinica 19(3): 193-200 "
        "(in Chinese).")),
    ("thornthwaite1948", Reference(
        "Thornthwaite C.W. (1948), Geographical Review 38: 55-94",
        "Thornthwaite C.W. (1948). An approach toward a rational classification of climate. Geographical Review "
        "38(1): 55-94.", doi="10.2307/210739")),
    # -- drivers -----------------------------------------------------------------------------------------------
    ("wang2010", Reference(
        "Wang J.-F. et al. (2010), International Journal of Geographical Information Science 24: 107-127",
        "Wang J.-F., Li X.-H., Christakos G., Liao Y.-L., Zhang T., Gu X., Zheng X.-Y. (2010). Geographical "
        "detectors-based health risk assessment and its application in the neural tube defects study of the "
        "Heshun region, China. International Journal of Geographical Information Science 24(1): 107-127.",
        doi="10.1080/13658810802443457")),
    ("wangxu2017", Reference(
        "Wang J.-F., Xu C.-D. (2017), Acta Geographica Sinica 72: 116-134",
        "Wang J.-F., Xu C.-D. (2017). Geodetector: principle and prospective. Acta Geographica Sinica 72(1): "
        "116-134 (in Chinese).")),
    ("song2020", Reference(
        "Song Y. et al. (2020), GIScience and Remote Sensing 57: 593-610",
        "Song Y., Wang J., Ge Y., Xu C. (2020). An optimal parameters-based geographical detector model enhances "
        "geographic characteristics of explanatory variables for spatial heterogeneity analysis: cases with "
        "different types of spatial data. GIScience and Remote Sensing 57(5): 593-610.",
        doi="10.1080/15481603.2020.1760434")),
    ("fisher1958", Reference(
        "Fisher W.D. (1958), Journal of the American Statistical Association 53: 789-798",
        "Fisher W.D. (1958). On grouping for maximum homogeneity. Journal of the American Statistical Association "
        "53(284): 789-798.", doi="10.1080/01621459.1958.10501479")),
    ("jenks1967", Reference(
        "Jenks G.F. (1967), International Yearbook of Cartography 7: 186-190",
        "Jenks G.F. (1967). The data model concept in statistical mapping. International Yearbook of Cartography "
        "7: 186-190.")),
    ("welch1947", Reference(
        "Welch B.L. (1947), Biometrika 34: 28-35",
        "Welch B.L. (1947). The generalization of 'Student's' problem when several different population variances "
        "are involved. Biometrika 34(1-2): 28-35.", doi="10.1093/biomet/34.1-2.28")),
    ("holm1979", Reference(
        "Holm S. (1979), Scandinavian Journal of Statistics 6: 65-70",
        "Holm S. (1979). A simple sequentially rejective multiple test procedure. Scandinavian Journal of "
        "Statistics 6(2): 65-70.", url="https://www.jstor.org/stable/4615733")),
    ("benjamini1995", Reference(
        "Benjamini Y., Hochberg Y. (1995), Journal of the Royal Statistical Society B 57: 289-300",
        "Benjamini Y., Hochberg Y. (1995). Controlling the false discovery rate: a practical and powerful approach "
        "to multiple testing. Journal of the Royal Statistical Society: Series B (Methodological) 57(1): 289-300.",
        doi="10.1111/j.2517-6161.1995.tb02031.x")),
    ("muller2022", Reference(
        "Müller S., Schüler L., Zech A., Heße F. (2022), Geoscientific Model Development 15: 3161-3182",
        "Müller S., Schüler L., Zech A., Heße F. (2022). GSTools v1.3: a toolbox for geostatistical modelling in "
        "Python. Geoscientific Model Development 15(7): 3161-3182.", doi="10.5194/gmd-15-3161-2022")),
    ("roberts2017", Reference(
        "Roberts D.R., Bahn V., Ciuti S. et al. (2017), Ecography 40: 913-929",
        "Roberts D.R., Bahn V., Ciuti S., Boyce M.S., Elith J., Guillera-Arroita G., Hauenstein S., Lahoz-Monfort "
        "J.J., Schröder B., Thuiller W., Warton D.I., Wintle B.A., Hartig F., Dormann C.F. (2017). Cross-validation "
        "strategies for data with temporal, spatial, hierarchical, or phylogenetic structure. Ecography 40(8): "
        "913-929.", doi="10.1111/ecog.02881")),
    ("lerest2014", Reference(
        "Le Rest K., Pinaud D., Monestiez P. et al. (2014), Global Ecology and Biogeography 23: 811-820",
        "Le Rest K., Pinaud D., Monestiez P., Chadoeuf J., Bretagnolle V. (2014). Spatial leave-one-out "
        "cross-validation for variable selection in the presence of spatial autocorrelation. Global Ecology and "
        "Biogeography 23(7): 811-820.", doi="10.1111/geb.12161")),
    ("vincenty1975", Reference(
        "Vincenty T. (1975), Survey Review 23: 88-93",
        "Vincenty T. (1975). Direct and inverse solutions of geodesics on the ellipsoid with application of nested "
        "equations. Survey Review 23(176): 88-93.", doi="10.1179/sre.1975.23.176.88")),
    ("dubrule1983", Reference(
        "Dubrule O. (1983), Mathematical Geology 15: 687-699",
        "Dubrule O. (1983). Cross validation of kriging in a unique neighborhood. Mathematical Geology 15(6): "
        "687-699.", doi="10.1007/BF01033232")),
    ("webster2007", Reference(
        "Webster R., Oliver M.A. (2007), Geostatistics for Environmental Scientists, 2nd ed., Wiley",
        "Webster R., Oliver M.A. (2007). Geostatistics for Environmental Scientists, 2nd edition. John Wiley & "
        "Sons, Chichester (chapters 4, 6, 8 and 9: variogram estimation and fitting, ordinary and universal "
        "kriging, cross-validation).", doi="10.1002/9780470517277")),
    ("lundberg2017", Reference(
        "Lundberg S.M., Lee S.-I. (2017), Advances in Neural Information Processing Systems 30: 4765-4774",
        "Lundberg S.M., Lee S.-I. (2017). A unified approach to interpreting model predictions. Advances in Neural "
        "Information Processing Systems 30 (NIPS 2017): 4765-4774.", doi="10.48550/arXiv.1705.07874")),
    ("lundberg2020", Reference(
        "Lundberg S.M. et al. (2020), Nature Machine Intelligence 2: 56-67",
        "Lundberg S.M., Erion G., Chen H., DeGrave A., Prutkin J.M., Nair B., Katz R., Himmelfarb J., Bansal N., "
        "Lee S.-I. (2020). From local explanations to global understanding with explainable AI for trees. Nature "
        "Machine Intelligence 2(1): 56-67.", doi="10.1038/s42256-019-0138-9")),
]

REFERENCES: dict[str, Reference] = dict(_REFS)
#: the project's four reference studies, first on the References page
STUDIES = ("han2025", "he2026", "lan2025", "rs2022npp")


def cite(*keys: str) -> str:
    """The short citations of ``keys``, separated by semicolons (the one source line of a short help)."""
    return "; ".join(REFERENCES[k].line for k in keys)
