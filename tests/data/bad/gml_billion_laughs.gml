<?xml version="1.0"?>
<!-- a comment before the DOCTYPE -->
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ogr:FeatureCollection xmlns:ogr="http://ogr.maptools.org/" xmlns:gml="http://www.opengis.net/gml">
  <ogr:featureMember><ogr:b gml:id="b.0"><ogr:geometryProperty><gml:Polygon srsName="EPSG:4527"><gml:exterior><gml:LinearRing><gml:posList>39464542.755 3915886.091 39464543.935 3915907.990 39464579.414 3915906.078 39464578.234 3915884.179 39464542.755 3915886.091</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></ogr:geometryProperty><ogr:编号>JZ000001</ogr:编号><ogr:建筑名称>&lol9;</ogr:建筑名称></ogr:b></ogr:featureMember>
  <ogr:featureMember><ogr:b gml:id="b.1"><ogr:geometryProperty><gml:Polygon srsName="EPSG:4527"><gml:exterior><gml:LinearRing><gml:posList>39464608.524 3915874.872 39464609.651 3915905.822 39464639.587 3915904.733 39464638.461 3915873.783 39464608.524 3915874.872</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></ogr:geometryProperty><ogr:编号>JZ000002</ogr:编号><ogr:建筑名称>b</ogr:建筑名称></ogr:b></ogr:featureMember>
</ogr:FeatureCollection>
